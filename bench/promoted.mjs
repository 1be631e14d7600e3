// Where a row's objects outlive young-generation GCs. An object that survives two scavenges is
// copied twice and promoted, and old objects that are dead but not yet collected keep the young
// objects they point to alive too: a per-request graph that gets promoted makes every scavenge slow
// (8–16 ms instead of 1) and can cost more CPU than the request's own work. This prints, for a row's
// app, the bytes per request that were promoted and later collected by a full GC (or are still
// alive), and the allocation sites they came from. The scavenges themselves: `--trace-gc` on the app.
//   node bench/run.mjs --build-only
//   node bench/promoted.mjs [kind=llmux-node] [features=off] [mode=stream] [requests=10000] [top=25]
// With the cache among the features every prompt is new (misses); `UNIQUE=0` repeats one (hits).
// `ALL=1` counts every allocation instead, collected young or not.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { APP_FLAGS, ask, start } from './lib/children.mjs';
import { load, poolFor } from './lib/load.mjs';

const [kind = 'llmux-node', features = 'off', mode = 'stream', requests = '10000', top = '25'] = process.argv.slice(2);
const build = fileURLToPath(new URL('./.build', import.meta.url));
const upstream = await start(resolve(build, 'servers/upstream.js'));
const app = await start(resolve(build, 'servers/app.js'), [kind, features], { UPSTREAM: `http://127.0.0.1:${upstream.port}` }, ['--expose-gc', ...APP_FLAGS]);
const pool = poolFor(`http://127.0.0.1:${app.port}`, 16);
const run = (n) => load(pool, { path: '/llm/v1/chat/completions', stream: mode === 'stream', unique: process.env.UNIQUE !== '0' && features.includes('cache'), n, concurrency: 16 });
await run(3000);
const file = `/tmp/llmux-promoted-${process.pid}.heapprofile`;
// `ALL=1`: every allocation, the short-lived too — what makes scavenges frequent, where promotion makes them slow.
const all = process.env.ALL === '1';
await ask(app.child, 'sample-start', { all });
await run(Number(requests));
await ask(app.child, 'sample-stop', { file });

const profile = JSON.parse(readFileSync(file, 'utf8'));
const bySite = new Map();
let total = 0;
(function walk(node) {
  const f = node.callFrame;
  const site = `${f.functionName || '(anonymous)'}  ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/bench\//, 'bench/')}:${f.lineNumber + 1}`;
  bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
  total += node.selfSize;
  node.children.forEach(walk);
})(profile.head);
console.log(`${kind} ${features} ${mode}: ${(total / Number(requests) / 1024).toFixed(1)} KB per request ${all ? 'allocated' : 'promoted and later collected (or still alive)'}`);
for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  console.log(`${((100 * bytes) / total).toFixed(1).padStart(5)}%  ${site}`);
}
process.exit(0);
