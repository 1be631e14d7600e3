// Young-generation GC per request for one app kind (as bench/run.mjs starts it, with --trace-gc):
// how often V8 scavenges, how long each scavenge takes, and the total per request. A scavenge copies
// what is still alive, so its time says how much of the app's garbage is not yet garbage when it
// runs; the count says how much the app allocates. Together: what each allocated byte costs there.
//   node bench/run.mjs --build-only
//   [MODE=stream] node bench/gc-trace.mjs [kind=llmux-express] [features=off] [requests=20000]
import { spawn } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_FLAGS, corePinning, start } from './lib/children.mjs';
import { load, poolFor } from './lib/load.mjs';

const [kind = 'llmux-express', features = 'off', requests = '20000'] = process.argv.slice(2);
const N = Number(requests);
const build = fileURLToPath(new URL('./.build', import.meta.url));
const pinning = corePinning();
pinning.pinOther(process.pid);
const upstream = await start(join(build, 'servers/upstream.js'));
pinning.pinOther(upstream.child.pid);
const logFile = join(tmpdir(), `llmux-gc-${process.pid}.log`);
// --trace-gc writes to stdout, so this app is spawned with its stdout in a file (start() discards it).
const app = spawn(process.execPath, ['--trace-gc', ...APP_FLAGS, join(build, 'servers/app.js'), kind, features], {
  env: { ...process.env, UPSTREAM: `http://127.0.0.1:${upstream.port}` },
  stdio: ['ignore', openSync(logFile, 'w'), 'inherit', 'ipc'],
});
const port = await new Promise((resolve) => app.once('message', (m) => resolve(m.port)));
pinning.pinApp(app.pid);
const pool = poolFor(`http://127.0.0.1:${port}`, 16);
const run = (n) => load(pool, { path: '/llm/v1/chat/completions', stream: process.env.MODE === 'stream', unique: features.includes('cache'), n, concurrency: 16 });
await run(5000);
const from = readFileSync(logFile, 'utf8').length;
await run(N);
await new Promise((r) => setTimeout(r, 200));
const trace = readFileSync(logFile, 'utf8').slice(from);
const pauses = (type) => [...trace.matchAll(new RegExp(`${type}[^,]*, ([\\d.]+) / [\\d.]+ ms`, 'g'))].map((m) => Number(m[1]));
const sum = (v) => v.reduce((a, b) => a + b, 0);
const scavenges = pauses('Scavenge');
const fullGcs = pauses('Mark-Compact');
console.log(
  `${kind} ${features}: ${((scavenges.length / N) * 1000).toFixed(1)} scavenges per 1000 requests, ${(sum(scavenges) / (scavenges.length || 1)).toFixed(2)} ms each, ` +
    `${((sum(scavenges) * 1000) / N).toFixed(1)} µs per request; ${fullGcs.length} full GCs, ${((sum(fullGcs) * 1000) / N).toFixed(1)} µs per request`,
);
app.kill();
rmSync(logFile, { force: true });
process.exit(0);
