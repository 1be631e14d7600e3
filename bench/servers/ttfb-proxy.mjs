// The node:http floor proxy of bench/servers/app.mjs with timestamps (the system's monotonic clock,
// shared by every process) at each step of a request, for bench/ttfb-legs.mjs.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(process.env.UPSTREAM, { connections: 16, keepAliveTimeout: 120_000 });
const now = () => String(process.hrtime.bigint());
const marks = [];
const server = createServer(async (req, res) => {
  const m = { arrived: now() };
  let body = '';
  for await (const c of req) body += c;
  m.read = now();
  const up = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body });
  m.upstreamHead = now();
  res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] });
  for await (const chunk of up.body) {
    if (!m.written) {
      m.firstChunk = now();
      res.write(chunk);
      m.written = now();
    } else res.write(chunk);
  }
  res.end();
  marks.push(m);
});
process.on('message', (msg) => {
  if (msg?.op === 'marks') process.send({ id: msg.id, marks: marks.splice(0) });
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
