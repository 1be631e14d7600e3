// `npm run bench`: direct calls, floor proxies and llmux through each adapter, interleaved in one run,
// against a mock upstream on loopback. Prints a table and writes docs/benchmarks.md.
import { fork } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const N = Number(args.requests ?? 1500);
const ROUNDS = Number(args.rounds ?? 3);
const CONCURRENCY = Number(args.concurrency ?? 16);
const ONLY = args.only ? new Set(args.only.split(',')) : undefined;
const redisUp = await import('redis').then(async ({ createClient }) => {
  const c = createClient({ url: 'redis://127.0.0.1:6379', socket: { connectTimeout: 500, reconnectStrategy: false } });
  c.on('error', () => {});
  try { await c.connect(); await c.quit(); return true; } catch { return false; }
}).catch(() => false);

/** [name, app kind, features, floor to compare with, modes] */
const CONFIGS = [
  ['node floor (undici proxy)', 'node-floor', 'off', null],
  ['llmux on node:http', 'llmux-node', 'off', 'node floor (undici proxy)'],
  ['express floor (undici proxy)', 'express-floor', 'off', null],
  ['express + fetch proxy (naive)', 'express-fetch', 'off', 'express floor (undici proxy)'],
  ['llmux express', 'llmux-express', 'off', 'express floor (undici proxy)'],
  ['llmux express cache miss', 'llmux-express', 'cache', 'express floor (undici proxy)', 'miss'],
  ['llmux express cache hit', 'llmux-express', 'cache', 'express floor (undici proxy)', 'hit'],
  ['llmux express budgets+limits (memory)', 'llmux-express', 'limits', 'express floor (undici proxy)'],
  ['llmux express all on (memory)', 'llmux-express', 'cache,limits', 'express floor (undici proxy)', 'miss'],
  ...(redisUp ? [['llmux express all on (redis)', 'llmux-express', 'cache,limits,redis', 'express floor (undici proxy)', 'miss']] : []),
  ['koa floor (undici proxy)', 'koa-floor', 'off', null],
  ['llmux koa', 'llmux-koa', 'off', 'koa floor (undici proxy)'],
  ['nestjs floor (undici proxy)', 'nestjs-floor', 'off', null],
  ['llmux nestjs', 'llmux-nestjs', 'off', 'nestjs floor (undici proxy)'],
].filter((c) => !ONLY || ONLY.has(c[1]));

function start(script, argv, env) {
  return new Promise((resolve, reject) => {
    const child = fork(here(script), argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${script} ${argv.join(' ')} exited with ${code}`)));
  });
}

const stats = (child) => new Promise((resolve) => { child.once('message', resolve); child.send('stats'); });

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

let counter = 0;
function body(stream, mode) {
  // A cache miss needs a new prompt each time; a hit, the same one.
  const text = mode === 'miss' ? `Say hello #${counter++}` : 'Say hello';
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], ...(stream ? { stream: true } : {}) });
}

async function load(pool, path, stream, mode, n) {
  const latencies = [];
  const ttfb = [];
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < n) {
      next++;
      const t0 = performance.now();
      const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: body(stream, mode) });
      let first = true;
      for await (const _ of res.body) {
        if (first) { ttfb.push(performance.now() - t0); first = false; }
      }
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode} on ${path}`);
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { latencies, ttfb, seconds };
}

const upstream = await start('./servers/upstream.mjs', [], {});
const UPSTREAM = `http://127.0.0.1:${upstream.port}`;
const apps = [];
const log = (...a) => process.stderr.write(a.join(' ') + '\n');
for (const [name, kind, features, floor, mode = 'hit'] of CONFIGS) {
  log('starting', name);
  const app = await start('./servers/app.mjs', [kind, features], { UPSTREAM });
  apps.push({ name, kind, floor, mode, child: app.child, pool: new Pool(`http://127.0.0.1:${app.port}`, { connections: CONCURRENCY }) });
}
const direct = { name: 'direct (no proxy)', pool: new Pool(UPSTREAM, { connections: CONCURRENCY }), mode: 'hit' };

const results = new Map();
const add = (name, mode, r) => {
  const key = `${name}|${mode}`;
  const acc = results.get(key) ?? { latencies: [], ttfb: [], seconds: 0, n: 0, cpu: 0 };
  acc.latencies.push(...r.latencies); acc.ttfb.push(...r.ttfb); acc.seconds += r.seconds; acc.n += r.latencies.length; acc.cpu += r.cpu ?? 0;
  results.set(key, acc);
};

for (const stream of [false, true]) {
  const mode = stream ? 'stream' : 'json';
  // Warm-up: JIT, pools, caches.
  await load(direct.pool, '/v1/chat/completions', stream, 'hit', 200);
  for (const a of apps) await load(a.pool, '/llm/v1/chat/completions', stream, a.mode, 300);
  for (let round = 0; round < ROUNDS; round++) {
    add(direct.name, mode, await load(direct.pool, '/v1/chat/completions', stream, 'hit', N));
    for (const a of apps) {
      log(mode, 'round', round, a.name);
      const before = (await stats(a.child)).cpu;
      const r = await load(a.pool, '/llm/v1/chat/completions', stream, a.mode, N);
      const after = await stats(a.child);
      r.cpu = after.cpu.user - before.user + after.cpu.system - before.system;
      a.rss = after.rss;
      add(a.name, mode, r);
    }
  }
}

const rows = [];
for (const mode of ['json', 'stream']) {
  const d = results.get(`${direct.name}|${mode}`);
  const dSorted = [...d.latencies].sort((x, y) => x - y);
  const dTtfb = [...d.ttfb].sort((x, y) => x - y);
  for (const entry of [direct, ...apps]) {
    const r = results.get(`${entry.name}|${mode}`);
    const lat = [...r.latencies].sort((x, y) => x - y);
    const ttfb = [...r.ttfb].sort((x, y) => x - y);
    const cpuPerReq = entry.child ? r.cpu / r.n : undefined;
    const floor = entry.floor ? results.get(`${entry.floor}|${mode}`) : undefined;
    rows.push({
      mode,
      name: entry.name + (entry.mode && entry.child && entry.name.includes('cache') ? '' : ''),
      rps: r.n / r.seconds,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      ttfb50: percentile(ttfb, 50),
      ttfbOverDirect: percentile(ttfb, 50) - percentile(dTtfb, 50),
      cpu: cpuPerReq,
      cpuVsFloor: floor && cpuPerReq !== undefined ? cpuPerReq / (floor.cpu / floor.n) : undefined,
      p50VsDirect: percentile(lat, 50) / percentile(dSorted, 50),
      rss: entry.rss,
    });
  }
}

const fmt = (v, d = 2) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
const header = '| mode | configuration | req/s | p50 ms | p99 ms | TTFB p50 ms | TTFB over direct ms | CPU µs/req | CPU vs floor | p50 vs direct | peak RSS MB |';
const lines = [header, '|' + '---|'.repeat(11)];
for (const r of rows) {
  lines.push(`| ${r.mode} | ${r.name} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.ttfb50)} | ${fmt(r.ttfbOverDirect, 3)} | ${fmt(r.cpu, 0)} | ${r.cpuVsFloor ? fmt(r.cpuVsFloor) + '×' : '—'} | ${fmt(r.p50VsDirect)}× | ${r.rss ? fmt(r.rss / 1048576, 0) : '—'} |`);
}
const table = lines.join('\n');
console.log(table);

const cmd = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
mkdirSync(here('../docs'), { recursive: true });
writeFileSync(
  here('../docs/benchmarks.md'),
  `# Benchmarks\n\nProduced by \`${cmd}\` on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}.\n` +
    `${N} requests × ${ROUNDS} interleaved rounds per configuration and mode, concurrency ${CONCURRENCY}, against a mock OpenAI upstream on loopback (own process).\n` +
    `CPU is the app process's user+system time per request (load generator and upstream excluded). "Floor" is a minimal proxy written straight on the same framework with an undici pool. ` +
    `Streams: the upstream sends the first chunk, pauses ${process.env.STREAM_GAP_MS ?? 2} ms, then the rest; TTFB is the time to the first body byte at the client.\n\n${table}\n`,
);

for (const a of apps) { a.child.kill(); await a.pool.close(); }
upstream.child.kill();
await direct.pool.close();
process.exit(0);
