// Where a proxy's added time to first byte goes, one stream request at a time: the bench's mock
// upstream, the node:http floor proxy (bench/servers/ttfb-proxy.mjs) and llmux on node:http
// (bench/servers/ttfb-llmux.mjs), each with a timestamp at each step, and this load generator, pinned
// as bench/run.mjs pins them; requests alternate direct, floor, llmux. Every process reads the same
// monotonic clock, so the legs between processes are measured, not inferred.
//   node bench/run.mjs --build-only && node bench/ttfb-legs.mjs [requests=300]
import { Pool } from 'undici';
import { buildBench } from './lib/build.mjs';
import { APP_FLAGS, ask, corePinning, start } from './lib/children.mjs';
import { chatBody, percentile } from './lib/load.mjs';

const N = Number(process.argv[2] ?? 300);
const out = await buildBench(['servers/upstream.mjs', 'servers/ttfb-proxy.mjs', 'servers/ttfb-llmux.mjs']);
const pinning = corePinning();
pinning.pinOther(process.pid);
const upstream = await start(`${out}/servers/upstream.js`);
pinning.pinOther(upstream.child.pid);
const env = { UPSTREAM: `http://127.0.0.1:${upstream.port}` };
const floor = await start(`${out}/servers/ttfb-proxy.js`, [], env, APP_FLAGS);
pinning.pinApp(floor.child.pid);
const llmux = await start(`${out}/servers/ttfb-llmux.js`, [], env, APP_FLAGS);
pinning.pinApp(llmux.child.pid);

const body = chatBody(true, false);
const now = () => process.hrtime.bigint();
async function one(pool, path) {
  const sent = now();
  const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
  let first;
  for await (const _ of res.body) first ??= now();
  return { sent, first };
}
const targets = [
  { pool: new Pool(`http://127.0.0.1:${upstream.port}`, { connections: 1 }), path: '/v1/chat/completions', times: [] },
  { pool: new Pool(`http://127.0.0.1:${floor.port}`, { connections: 1 }), path: '/v1/chat/completions', times: [], app: floor },
  { pool: new Pool(`http://127.0.0.1:${llmux.port}`, { connections: 1 }), path: '/llm/v1/chat/completions', times: [], app: llmux },
];
for (let i = 0; i < 1000; i++) for (const t of targets) await one(t.pool, t.path);
for (const t of targets) if (t.app) await ask(t.app.child, 'marks');
for (let i = 0; i < N; i++) for (const t of targets) t.times.push(await one(t.pool, t.path));
const [direct, proxy, gateway] = targets;
const fm = (await ask(floor.child, 'marks')).marks;
const lm = (await ask(llmux.child, 'marks')).marks;

const ms = (a, b) => Number(BigInt(b) - BigInt(a)) / 1e6;
const med = (v) => percentile(v, 50);
const rows = [
  ['request sent → first byte', direct.times.map((r) => ms(r.sent, r.first)), proxy.times.map((r) => ms(r.sent, r.first)), gateway.times.map((r) => ms(r.sent, r.first))],
  ['  client → proxy (a loopback leg into another process)', null, proxy.times.map((r, i) => ms(r.sent, fm[i].arrived)), gateway.times.map((r, i) => ms(r.sent, lm[i].arrived))],
  ['  proxy: request in → upstream call made (body read; llmux: parse, validate, plan, route)', null, fm.map((m) => ms(m.arrived, m.read)), lm.map((m) => ms(m.arrived, m.sent))],
  ['  proxy → upstream → proxy, to the upstream head', null, fm.map((m) => ms(m.read, m.upstreamHead)), lm.map((m) => ms(m.sent, m.upstreamHead))],
  ['  upstream head → first chunk written (llmux: first batch read, translated, held for its content, headers)', null, fm.map((m) => ms(m.upstreamHead, m.written)), lm.map((m) => ms(m.upstreamHead, m.written))],
  ['  proxy → client (a loopback leg back)', null, proxy.times.map((r, i) => ms(fm[i].written, r.first)), gateway.times.map((r, i) => ms(lm[i].written, r.first))],
];
const cell = (v) => (v ? med(v).toFixed(3) : '—').padStart(8);
console.log(`${N} stream requests one at a time, alternating${pinning.description ? ` (${pinning.description})` : ''}; medians, ms:`);
console.log(`  direct    floor    llmux  llmux − floor`);
for (const [what, d, f, l] of rows) console.log(`${cell(d)} ${cell(f)} ${cell(l)} ${(med(l) - med(f)).toFixed(3).padStart(8)}  ${what}`);
process.exit(0);
