// `npm run bench`: direct calls, a floor proxy per framework, a naive fetch proxy and llmux through
// each adapter (features off, cache miss/hit, budgets + rate limits in memory and Redis), interleaved
// in one run against a mock OpenAI upstream on loopback; then time to first byte at concurrency 1 and
// the semantic index at 100k entries. Prints the tables and writes docs/benchmarks.md.
//
//   node bench/run.mjs [--quick] [--requests=200] [--rounds=6] [--warmup=1000] [--concurrency=16] [--only=<ids>]
//                      [--modes=json,stream,long] [--long-requests=<n>] [--semantic=100000|0] [--profile=<id>] [--app-flags=<v8 flags>] [--no-write] [--verbose]
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { buildBench } from './lib/build.mjs';
import { APP_FLAGS as DEFAULT_APP_FLAGS, corePinning, start, stats, cpuBetween } from './lib/children.mjs';
import { load, percentile, poolFor, requestShape } from './lib/load.mjs';
import { renderDoc, evaluateTargets } from './lib/report.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const argv = process.argv.slice(2);
const args = Object.fromEntries(argv.map((a) => a.replace(/^--/, '')).map((a) => (a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, 'true'])));
const QUICK = args.quick === 'true';
const N = Number(args.requests ?? (QUICK ? 200 : 200));
const ROUNDS = Number(args.rounds ?? (QUICK ? 1 : 6));
// Warm-up matters: JIT compilation and heap growth are counted in the process's CPU (see APP_FLAGS).
const WARMUP = Number(args.warmup ?? (QUICK ? 100 : 1000));
const CONCURRENCY = Number(args.concurrency ?? 16);
const TTFB_N = Number(args.ttfb ?? (QUICK ? 20 : 40));
const TTFB_ROUNDS = QUICK ? 2 : 3;
/**
 * One request at a time, rows take turns every few requests: in blocks of 40 a row's whole block could
 * land in a burst of outside load, so each row's 120 requests are spread over the part's whole span, as
 * every other row's are. (The feature rows' larger first-byte times there are not such bursts: they
 * stayed when interleaved; see the reading notes on code run cold one request at a time.)
 */
const TTFB_BLOCK = 4;
const SEMANTIC = Number(args.semantic ?? (QUICK ? 0 : 100_000));
const MODES = (args.modes ?? 'json,stream,long').split(',');
// Long streams (mode `long`): fewer requests, each relaying LONG_TOKENS tokens (bench/servers/upstream.mjs).
const LONG_N = Number(args['long-requests'] ?? Math.max(10, Math.round(N / 8)));
const ONLY = args.only ? args.only.split(',') : undefined;
const log = (...a) => process.stderr.write(a.join(' ') + '\n');

const redisUp = await import('redis')
  .then(async ({ createClient }) => {
    const c = createClient({ url: 'redis://127.0.0.1:6379', socket: { connectTimeout: 500, reconnectStrategy: false } });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.quit();
      return true;
    } catch {
      return false;
    }
  })
  .catch(() => false);

/**
 * Rows: id, label, app kind, features, floor row id (same framework), whether every request is a
 * new prompt (cache miss) or the same one (cache hit).
 */
const ROWS = [
  { id: 'node-floor', label: 'node:http floor (undici proxy)', kind: 'node-floor' , long: true },
  { id: 'node-llmux', label: 'llmux on node:http', kind: 'llmux-node', floor: 'node-floor' , long: true },
  { id: 'node-minimum', label: "node:http proxy doing the contract's minimum by hand (reference; non-stream only)", kind: 'node-minimum', floor: 'node-floor', modes: ['json'] },
  { id: 'express-floor', label: 'Express floor (undici proxy)', kind: 'express-floor' , long: true },
  { id: 'express-minimum', label: "Express proxy doing the contract's minimum by hand (reference; non-stream only)", kind: 'express-minimum', floor: 'express-floor', modes: ['json'] },
  { id: 'express-fetch', label: 'naive Express + fetch proxy (reference)', kind: 'express-fetch', floor: 'express-floor' },
  { id: 'express-llmux', label: 'llmux Express', kind: 'llmux-express', floor: 'express-floor' , long: true },
  { id: 'express-defaults', label: 'llmux Express, default observability (pino line per request, metrics)', kind: 'llmux-express', features: 'defaults', floor: 'express-floor' },
  { id: 'express-raw', label: 'llmux Express, ahead of express.json()', kind: 'llmux-express-raw', floor: 'express-floor' },
  { id: 'express-cache-miss', label: 'llmux Express cache miss', kind: 'llmux-express', features: 'cache', floor: 'express-floor', unique: true },
  { id: 'express-hit-minimum', label: "Express cache hit doing the contract's minimum by hand (reference; non-stream only)", kind: 'express-hit-minimum', floor: 'express-floor', modes: ['json'] },
  { id: 'express-cache-hit', label: 'llmux Express cache hit', kind: 'llmux-express', features: 'cache', floor: 'express-floor' },
  { id: 'express-limits', label: 'llmux Express budgets + limits (memory)', kind: 'llmux-express', features: 'limits', floor: 'express-floor' },
  { id: 'express-all', label: 'llmux Express cache miss + budgets + limits (memory)', kind: 'llmux-express', features: 'cache,limits', floor: 'express-floor', unique: true },
  { id: 'express-limits-redis', label: 'llmux Express budgets + limits (Redis)', kind: 'llmux-express', features: 'limits,redis', floor: 'express-floor', redis: true },
  { id: 'express-all-redis', label: 'llmux Express cache miss + budgets + limits (Redis)', kind: 'llmux-express', features: 'cache,limits,redis', floor: 'express-floor', unique: true, redis: true },
  { id: 'express-all-redis-finish', label: 'llmux Express cache miss + budgets + limits (Redis), finishAfterResponse', kind: 'llmux-express', features: 'cache,limits,redis,finish', floor: 'express-floor', unique: true, redis: true },
  { id: 'koa-floor', label: 'Koa floor (undici proxy)', kind: 'koa-floor' , long: true },
  { id: 'koa-llmux', label: 'llmux Koa', kind: 'llmux-koa', floor: 'koa-floor' , long: true },
  { id: 'nestjs-floor', label: 'NestJS floor (undici proxy)', kind: 'nestjs-floor' , long: true },
  { id: 'nestjs-minimum', label: "NestJS proxy doing the contract's minimum by hand (reference; non-stream only)", kind: 'nestjs-minimum', floor: 'nestjs-floor', modes: ['json'] },
  { id: 'nestjs-llmux', label: 'llmux NestJS', kind: 'llmux-nestjs', floor: 'nestjs-floor' , long: true },
].filter((r) => (!r.redis || redisUp) && (!ONLY || ONLY.some((o) => r.id === o || r.kind === o || r.id.startsWith(o + '-'))));

/** V8 flags of every app process (see `APP_FLAGS` in lib/children.mjs); `--app-flags` replaces them. */
const APP_FLAGS = args['app-flags'] !== undefined ? args['app-flags'].split(' ').filter(Boolean) : DEFAULT_APP_FLAGS;

const out = await buildBench(['servers/app.mjs', 'servers/upstream.mjs', 'semantic.mjs', 'micro.mjs']);
if (args['build-only'] === 'true') process.exit(0);
// Apps on the last core, the rest on the others (`--no-pin` to turn off): see `corePinning`.
const pinning = corePinning(args.pin !== 'false' && args['no-pin'] !== 'true');
pinning.pinOther(process.pid);
const upstream = await start(`${out}/servers/upstream.js`);
pinning.pinOther(upstream.child.pid);
const UPSTREAM = `http://127.0.0.1:${upstream.port}`;
const direct = { id: 'direct', label: 'direct to the mock upstream (no proxy)', path: '/v1/chat/completions' };
direct.pool = poolFor(UPSTREAM, CONCURRENCY);
const profileDir = here('./.build/profiles');
mkdirSync(profileDir, { recursive: true });
for (const row of ROWS) {
  log('starting', row.id);
  const execArgv = [...APP_FLAGS, ...(args.profile?.split(',').includes(row.id) ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])];
  const app = await start(`${out}/servers/app.js`, [row.kind, row.features ?? 'off'], { UPSTREAM }, execArgv);
  pinning.pinApp(app.child.pid);
  Object.assign(row, { child: app.child, path: '/llm/v1/chat/completions', pool: poolFor(`http://127.0.0.1:${app.port}`, CONCURRENCY) });
}
const everyone = [direct, ...ROWS];
/** The rows measured in one mode (a reference row may leave out streams; long streams are measured on the floors and llmux with features off). */
const rowsFor = (mode) => everyone.filter((row) => (mode === 'long' ? row === direct || row.long : !row.modes || row.modes.includes(mode)));

/** Runs `n` requests against one row, with the app's CPU around it unless `cpu` is false. */
async function measure(row, mode, n, concurrency, cpu = true) {
  const withCpu = cpu && row.child;
  const before = withCpu ? await stats(row.child) : undefined;
  const r = await load(row.pool, { path: row.path, ...requestShape(mode), unique: row.unique, n, concurrency });
  if (withCpu) {
    const after = await stats(row.child);
    r.cpu = cpuBetween(before, after);
    row.rss = after.rss;
  }
  return r;
}

const results = {}; // `${id}|${mode}` → { latencies, ttfb, seconds, n, cpu }
function add(key, r) {
  const acc = (results[key] ??= { latencies: [], ttfb: [], seconds: 0, n: 0, cpu: 0, cpuPerRound: [] });
  acc.latencies.push(...r.latencies);
  acc.ttfb.push(...r.ttfb);
  acc.seconds += r.seconds;
  acc.n += r.latencies.length;
  acc.cpu += r.cpu ?? 0;
  if (r.cpu !== undefined) acc.cpuPerRound.push(r.cpu / r.latencies.length);
}

const began = Date.now();
const loadBefore = loadavg();

// Throughput at fixed concurrency, rounds interleaved (and their order rotated) so drift in the
// machine's load hits every configuration alike.
for (const mode of MODES) {
  const rows = rowsFor(mode);
  const n = mode === 'long' ? LONG_N : N;
  for (const row of rows) await load(row.pool, { path: row.path, ...requestShape(mode), unique: row.unique, n: mode === 'long' ? Math.ceil(WARMUP / 8) : WARMUP, concurrency: CONCURRENCY });
  for (let round = 0; round < ROUNDS; round++) {
    log(`${mode}: round ${round + 1}/${ROUNDS}`);
    const order = rows.map((_, i) => rows[(i + round * 5) % rows.length]);
    for (const row of order) {
      const r = await measure(row, mode, n, CONCURRENCY);
      if (args.verbose && r.cpu !== undefined) log(`  ${row.id}: ${(r.cpu / r.latencies.length).toFixed(0)} µs/req`);
      add(`${row.id}|${mode}`, r);
    }
  }
}

// Latency one request at a time: what the proxy adds to a single call, free of queueing.
// (Long streams' first byte is a stream's: not measured again.)
for (const mode of MODES.filter((m) => m !== 'long')) {
  log(`${mode}: concurrency 1`);
  const rows = rowsFor(mode);
  const turns = Math.ceil((TTFB_ROUNDS * TTFB_N) / TTFB_BLOCK);
  for (let turn = 0; turn < turns; turn++) {
    // Latency only (no CPU is reported for this part): no stats round trip to the app between blocks.
    for (const row of rows.map((_, i) => rows[(i + turn) % rows.length])) add(`${row.id}|${mode}|c1`, await measure(row, mode, TTFB_BLOCK, 1, false));
  }
}
const loadAfter = loadavg();
const httpSeconds = (Date.now() - began) / 1000;
log(`HTTP part: ${httpSeconds.toFixed(0)} s`);

const peak = {};
for (const row of ROWS) {
  peak[row.id] = row.rss;
  // Asked to exit rather than killed, so a `--profile` child writes its profile.
  const exited = new Promise((resolve) => row.child.once('exit', resolve));
  row.child.send('exit');
  await exited;
  await row.pool.close();
}
await direct.pool.close();
upstream.child.kill();

let semantic;
if (SEMANTIC > 0) {
  log(`semantic index: ${SEMANTIC} entries`);
  // Its one message is the result (start() resolves on a child's first message).
  const child = await start(`${out}/semantic.js`, [String(SEMANTIC)], {}, ['--max-old-space-size=4096']);
  semantic = child.message;
  child.child.kill();
  log(`semantic part: ${((Date.now() - began) / 1000 - httpSeconds).toFixed(0)} s`);
}

const summary = (key, withCpu) => {
  const r = results[key];
  if (!r) return undefined;
  return {
    n: r.n,
    rps: r.n / r.seconds,
    p50: percentile(r.latencies, 50),
    p99: percentile(r.latencies, 99),
    ttfb50: percentile(r.ttfb, 50),
    ttfb99: percentile(r.ttfb, 99),
    // The median round: a burst of load from outside lands on some rounds of some rows, not on all.
    cpu: withCpu ? percentile(r.cpuPerRound, 50) : undefined,
    cpuPerRound: withCpu ? r.cpuPerRound : undefined,
  };
};
const table = { rows: [], modes: MODES };
for (const row of everyone) {
  const entry = { id: row.id, label: row.label, floor: row.floor, rss: peak[row.id] };
  for (const mode of MODES) {
    entry[mode] = summary(`${row.id}|${mode}`, Boolean(row.child));
    entry[`${mode}c1`] = summary(`${row.id}|${mode}|c1`, Boolean(row.child));
  }
  table.rows.push(entry);
}


const meta = {
  command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'cpu'}`,
  loadBefore,
  loadAfter,
  httpSeconds,
  N,
  LONG_N,
  longTokens: Number(process.env.LONG_TOKENS ?? 200),
  ROUNDS,
  WARMUP,
  CONCURRENCY,
  TTFB_N: TTFB_N * TTFB_ROUNDS,
  TTFB_BLOCK,
  streamGapMs: Number(process.env.STREAM_GAP_MS ?? 2),
  redisUp,
  appFlags: APP_FLAGS.join(' '),
  pinned: pinning.description,
};
const targets = evaluateTargets(table, semantic);
const doc = renderDoc({ meta, table, semantic, targets });
console.log(doc);
if (args['no-write'] !== 'true' && !ONLY) writeFileSync(here('../docs/benchmarks.md'), doc);
else if (args['no-write'] !== 'true') log('(--only: docs/benchmarks.md left as it was)');
process.exit(0);
