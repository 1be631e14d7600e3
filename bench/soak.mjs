// `npm run soak`: N requests (default 1,000,000) through the Express example app with every feature
// on — cache (hits and misses), per-user budgets and rate limits, cost, metrics, the request log —
// against the mock upstream, sampling the app's RSS and heap every few seconds. The heap is read after
// a forced GC once warmed up (a tenth of the run, at least 70 s so the one-minute rate-limit windows
// are full, and at least 13,334 requests so the response cache's LRU is full), then at `--gc-readings`
// even steps and at the end. Memory is flat when the least-squares trend of those readings grows the
// heap by at most 10% (or 8 MB) of the warm reading over the rest of the run. A trend, not the end
// against the warm reading alone: the rate-limit windows hold the last minute of requests, so each
// reading moves with the request rate of the minute before it.
//   node bench/soak.mjs [--requests=1000000] [--concurrency=32] [--gc-readings=10] [--no-write] [--snapshots]
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
const GC_READINGS = Math.max(1, Number(args['gc-readings'] ?? 10));
/** The memory store's LRU keeps 10,000 responses; three requests in four are new prompts. */
const CACHE_FULL_AT = Math.ceil(10_000 / 0.75);
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
let warmAt = Math.max(Math.floor(N / 10), CACHE_FULL_AT);
/** Heap after a forced GC: once warm, every `gcEvery` requests after, and at the end. */
const readings = [];
let gcEvery = Infinity;
let nextReadingAt = Infinity;

/** Requests per second over the last minute, which is what the rate-limit windows hold. */
function lastMinuteRate(t) {
  const from = samples.find((s) => s.t >= t - 60) ?? { t: 0, n: 0 };
  return t > from.t ? (sent - from.n) / (t - from.t) : 0;
}

async function reading(n) {
  const s = await gcStats();
  const t = (Date.now() - began) / 1000;
  const r = { ...s, n, t, rate: lastMinuteRate(t) };
  readings.push(r);
  log(`${t.toFixed(0)} s: heap after GC ${(r.heap / MB).toFixed(1)} MB at ${n} requests (${r.rate.toFixed(0)} requests/s over the last minute), rss ${(r.rss / MB).toFixed(0)} MB`);
  return r;
}
const sampler = setInterval(async () => {
  const s = await stats(app.child);
  const t = (Date.now() - began) / 1000;
  samples.push({ t, n: sent, rss: s.rss, heap: s.heap, heapTotal: s.heapTotal, external: s.external });
  log(`${t.toFixed(0)} s: ${sent} requests, rss ${(s.rss / MB).toFixed(0)} MB, heap ${(s.heap / MB).toFixed(1)} of ${(s.heapTotal / MB).toFixed(1)} MB, external ${(s.external / MB).toFixed(1)} MB, ${failed} failed`);
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
        gcEvery = Math.max(1, Math.floor((N - i) / GC_READINGS));
        nextReadingAt = i + gcEvery;
        log(`warm at ${i} requests`);
        baseline = await reading(i);
        if (args.snapshots) await snapshot('warm');
      }
    } else if (i === nextReadingAt) {
      nextReadingAt += gcEvery;
      if (i < N - gcEvery / 2) await reading(i);
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
const final = await reading(N);
if (args.snapshots) await snapshot('end');
// A run too short to warm up compares with its own end, and says so.
baseline ??= { ...final, short: true };
const grew = final.heap - baseline.heap;
// Least-squares slope of heap against requests over every reading from warm to the end.
const mean = (f) => readings.reduce((a, r) => a + f(r), 0) / readings.length;
const [mn, mh] = [mean((r) => r.n), mean((r) => r.heap)];
const slope = readings.length < 2 ? 0 : mean((r) => (r.n - mn) * (r.heap - mh)) / mean((r) => (r.n - mn) ** 2);
const trend = slope * (final.n - baseline.n);
const allowed = Math.max(0.1 * baseline.heap, 8 * MB);
const flat = trend <= allowed;
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
  baseline.short ? `The run was too short to warm up (70 s and ${CACHE_FULL_AT.toLocaleString('en')} requests): heap after a forced GC ${f(final.heap)} MB at the end, RSS ${f(final.rss)} MB, peak RSS ${f(final.peakRss)} MB; no verdict.` :
  `Heap after a forced GC: ${f(baseline.heap)} MB once warm (after ${baseline.n.toLocaleString('en')} requests, ${baseline.t.toFixed(0)} s), ${f(final.heap)} MB at the end ` +
    `(${grew >= 0 ? '+' : ''}${f(grew)} MB); the least-squares trend over the ${readings.length} readings below is ${trend >= 0 ? '+' : ''}${f(trend)} MB from warm to the end ` +
    `(flat: at most ${f(allowed)} MB): memory **${flat ? 'stays flat' : 'grows'}**. RSS after a forced GC ${f(baseline.rss)} MB once warm, ${f(final.rss)} MB at the end; peak RSS ${f(final.peakRss)} MB. ` +
    'Each reading includes the rate-limit windows, which hold the last minute of requests, so it moves with the request rate of the minute before it.',
  '',
  '| requests | time s | requests/s, last minute | heap after GC MB | RSS MB |',
  '|---:|---:|---:|---:|---:|',
  ...readings.map((r) => `| ${r.n.toLocaleString('en')} | ${r.t.toFixed(0)} | ${r.rate.toFixed(0)} | ${f(r.heap)} | ${f(r.rss)} |`),
  '',
  '| time s | requests | RSS MB | heap used MB (no forced GC) | heap total MB |',
  '|---:|---:|---:|---:|---:|',
  ...rows.map((s) => `| ${s.t.toFixed(0)} | ${s.n.toLocaleString('en')} | ${f(s.rss)} | ${f(s.heap)} | ${f(s.heapTotal)} |`),
].join('\n');
console.log(section);
const doc = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
if (args['no-write'] !== 'true') writeFileSync(doc, withSoakSection(existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n', section));
process.exit(flat && failed === 0 ? 0 : 1);
