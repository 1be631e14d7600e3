// Where a proxy's added time to first byte goes, one stream request at a time: the bench's mock
// upstream, the node:http floor proxy with a timestamp at each step (bench/servers/ttfb-proxy.mjs),
// and this load generator, pinned as bench/run.mjs pins them. Every process reads the same monotonic
// clock, so the legs between processes are measured, not inferred.
//   node bench/run.mjs --build-only && node bench/ttfb-legs.mjs [requests=300]
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { buildBench } from './lib/build.mjs';
import { APP_FLAGS, ask, corePinning, start } from './lib/children.mjs';
import { chatBody, percentile } from './lib/load.mjs';

const N = Number(process.argv[2] ?? 300);
const out = await buildBench(['servers/upstream.mjs', 'servers/ttfb-proxy.mjs']);
const pinning = corePinning();
pinning.pinOther(process.pid);
const upstream = await start(`${out}/servers/upstream.js`);
pinning.pinOther(upstream.child.pid);
const proxy = await start(`${out}/servers/ttfb-proxy.js`, [], { UPSTREAM: `http://127.0.0.1:${upstream.port}` }, APP_FLAGS);
pinning.pinApp(proxy.child.pid);

const body = chatBody(true, false);
const now = () => process.hrtime.bigint();
async function one(pool) {
  const sent = now();
  const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body });
  let first;
  for await (const _ of res.body) first ??= now();
  return { sent, first };
}
const direct = new Pool(`http://127.0.0.1:${upstream.port}`, { connections: 1 });
const proxied = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: 1 });
for (let i = 0; i < 500; i++) {
  await one(direct);
  await one(proxied);
}
await ask(proxy.child, 'marks');
const d = [];
const p = [];
for (let i = 0; i < N; i++) {
  d.push(await one(direct));
  p.push(await one(proxied));
}
const { marks } = await ask(proxy.child, 'marks');
const ms = (a, b) => Number(BigInt(b) - BigInt(a)) / 1e6;
const med = (v) => percentile(v, 50).toFixed(3);
const legs = [
  ['direct: request sent → first byte (one round trip to the upstream)', d.map((r) => ms(r.sent, r.first))],
  ['proxied: request sent → first byte', p.map((r) => ms(r.sent, r.first))],
  ['  client → proxy (a loopback leg into another process)', p.map((r, i) => ms(r.sent, marks[i].arrived))],
  ['  proxy reads the body', marks.map((m) => ms(m.arrived, m.read))],
  ['  proxy → upstream → proxy, to the upstream head', marks.map((m) => ms(m.read, m.upstreamHead))],
  ['  upstream head → first chunk in the proxy', marks.map((m) => ms(m.upstreamHead, m.firstChunk))],
  ['  proxy writes the first chunk', marks.map((m) => ms(m.firstChunk, m.written))],
  ['  proxy → client (a loopback leg back)', p.map((r, i) => ms(marks[i].written, r.first))],
];
console.log(`${N} stream requests one at a time${pinning.description ? ` (${pinning.description})` : ''}; medians, ms:`);
for (const [what, v] of legs) console.log(`${med(v).padStart(8)}  ${what}`);
process.exit(0);
