// `npm run soak`: N requests (default 1,000,000) through the Express example app with every feature
// on — cache (hits and misses), per-user budgets and rate limits, cost, metrics, the request log —
// against the mock upstream, sampling the app's RSS and heap every few seconds. Memory is flat when
// the heap after a forced GC at the end is within 10% (or 8 MB) of the heap after a forced GC once
// warmed up (a tenth of the run, and at least 70 s so the one-minute rate-limit windows are full).
//   node bench/soak.mjs [--requests=1000000] [--concurrency=32] [--no-write] [--snapshots]
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildBench } from './lib/build.mjs';
import { ask, start, stats } from './lib/children.mjs';
import { poolFor } from './lib/load.mjs';
import { withSoakSection } from './lib/report.mjs';

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '')).map((a) => (a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, 'true'])));
const N = Number(args.requests ?? 1_000_000);
const CONCURRENCY = Number(args.concurrency ?? 32);
const SAMPLE_MS = 5000;
const MB = 1024 * 1024;
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

const out = await buildBench(['servers/soak-app.mjs', 'servers/upstream.mjs']);
const upstream = await start(`${out}/servers/upstream.js`);
const app = await start(`${out}/servers/soak-app.js`, [], { UPSTREAM: `http://127.0.0.1:${upstream.port}`, LLMUX_LOG_LEVEL: 'info' }, ['--expose-gc']);
const pool = poolFor(`http://127.0.0.1:${app.port}`, CONCURRENCY);
/** Writes `bench/.build/soak-<name>.heapsnapshot` from the app (with --snapshots). */
const snapshot = (name) => ask(app.child, 'snapshot', { file: fileURLToPath(new URL(`./.build/soak-${name}.heapsnapshot`, import.meta.url)) });
const gcStats = () => ask(app.child, 'gc');

/**
 * The traffic: 100 users; a quarter of the requests repeat one of 50 prompts (cache hits once
 * stored), the rest are new (misses that fill the bounded cache); one in four streams.
 */
let sent = 0;
let failed = 0;
const statuses = {};
function request(i) {
  const stream = i % 4 === 1;
  const repeat = i % 4 === 0;
  const text = repeat ? `Frequent question ${i % 50}` : `Question number ${i} for the soak`;
  return {
    path: '/llm/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': `user-${i % 100}` },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) }),
  };
}

const samples = [];
const began = Date.now();
let baseline;
let warmAt = Math.max(Math.floor(N / 10), 1);
const sampler = setInterval(async () => {
  const s = await stats(app.child);
  const t = (Date.now() - began) / 1000;
  samples.push({ t, n: sent, rss: s.rss, heap: s.heap });
  log(`${t.toFixed(0)} s: ${sent} requests, rss ${(s.rss / MB).toFixed(0)} MB, heap ${(s.heap / MB).toFixed(1)} MB, ${failed} failed`);
}, SAMPLE_MS);

async function worker() {
  while (sent < N) {
    const i = sent++;
    if (i === warmAt) {
      // Warm: at least 70 s in, so rate-limit windows (one minute) hold a full minute of entries.
      const wait = 70_000 - (Date.now() - began);
      if (wait > 0) {
        warmAt = i + Math.ceil(((sent / (Date.now() - began)) * wait) || 1);
      } else {
        baseline = { ...(await gcStats()), n: i, t: (Date.now() - began) / 1000 };
        if (args.snapshots) await snapshot('warm');
        log(`warm at ${i} requests: heap after GC ${(baseline.heap / MB).toFixed(1)} MB`);
      }
    }
    try {
      const res = await pool.request(request(i));
      for await (const _ of res.body);
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode !== 200) failed++;
    } catch {
      failed++;
    }
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
clearInterval(sampler);
const seconds = (Date.now() - began) / 1000;
const final = await gcStats();
if (args.snapshots) await snapshot('end');
// A run too short to warm up compares with its own end, and says so.
baseline ??= { ...final, n: N, t: seconds, short: true };
const grew = final.heap - baseline.heap;
const flat = grew <= Math.max(0.1 * baseline.heap, 8 * MB);
await pool.close();
const exited = new Promise((resolve) => app.child.once('exit', resolve));
app.child.send('exit');
await exited;
upstream.child.kill();

const f = (bytes) => (bytes / MB).toFixed(1);
const every = Math.max(1, Math.floor(samples.length / 12));
const rows = samples.filter((_, i) => i % every === 0 || i === samples.length - 1);
const section = [
  '## Soak',
  '',
  `Produced by \`npm run soak -- --requests=${N}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC (load average ${loadavg().map((v) => v.toFixed(2)).join(' / ')} at the end): ` +
    `${N.toLocaleString('en')} requests through the Express example app (\`examples/express/app.mjs\`) with the response cache, per-user budgets and rate limits, gateway-wide limits, cost, ` +
    `metrics and the default request log on, against the mock upstream; 100 users, a quarter of the prompts repeated (cache hits), one request in four streamed, concurrency ${CONCURRENCY}. ` +
    `${seconds.toFixed(0)} s, ${(N / seconds).toFixed(0)} requests/s, statuses ${JSON.stringify(statuses)}.`,
  '',
  (baseline.short ? 'The run was too short to warm up (70 s); no comparison. ' : '') +
  `Heap after a forced GC: ${f(baseline.heap)} MB once warm (after ${baseline.n.toLocaleString('en')} requests, ${baseline.t.toFixed(0)} s), ${f(final.heap)} MB at the end ` +
    `(${grew >= 0 ? '+' : ''}${f(grew)} MB): memory **${flat ? 'stays flat' : 'grows'}**. Peak RSS ${f(final.peakRss)} MB.`,
  '',
  '| time s | requests | RSS MB | heap used MB (no forced GC) |',
  '|---:|---:|---:|---:|',
  ...rows.map((s) => `| ${s.t.toFixed(0)} | ${s.n.toLocaleString('en')} | ${f(s.rss)} | ${f(s.heap)} |`),
].join('\n');
console.log(section);
const doc = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
if (args['no-write'] !== 'true') writeFileSync(doc, withSoakSection(existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n', section));
process.exit(flat && failed === 0 ? 0 : 1);
