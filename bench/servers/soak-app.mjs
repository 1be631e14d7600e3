// The Express example app (examples/express/app.mjs) with every feature on, for `npm run soak`:
// the response cache, per-user budgets and rate limits, gateway-wide limits, cost, metrics and the
// default request log (stdout, which the soak sends to /dev/null), against the mock upstream.
// Run with --expose-gc: the soak asks for a collection before it reads the heap.
import { createExampleApp } from '../../examples/express/app.mjs';

const UPSTREAM = process.env.UPSTREAM;
const config = {
  targets: [{ provider: 'openai', api_key: 'sk-soak-key', custom_host: `${UPSTREAM}/v1` }],
  cache: { mode: 'simple', max_age: 600 },
  budget: [{ max_cost_per_day: 1e9, scope: 'user' }, { max_cost_per_month: 1e9 }],
  rate_limit: [{ requests_per_minute: 1e9, tokens_per_minute: 1e12, scope: 'user' }, { requests_per_minute: 1e9 }],
};
const { app } = createExampleApp({
  env: {},
  gateway: { config, pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } } },
});

const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
server.keepAliveTimeout = 120_000;
let peakRss = 0;
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100).unref();
process.on('message', async (m) => {
  if (m === 'exit') process.exit(0);
  // Twice: the first collection can leave objects that only its weak callbacks and finalizers freed.
  if (m?.op === 'gc') {
    global.gc?.();
    global.gc?.();
  }
  if (m?.op === 'stats' || m?.op === 'gc') {
    const mem = process.memoryUsage();
    peakRss = Math.max(peakRss, mem.rss);
    process.send({ id: m.id, cpu: process.cpuUsage(), rss: mem.rss, peakRss, heap: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers });
  }
  // `soak.mjs --snapshots`: heap snapshots once warm and at the end, to see what grew.
  if (m?.op === 'snapshot') {
    global.gc?.();
    const v8 = await import('node:v8');
    process.send({ id: m.id, written: v8.writeHeapSnapshot(m.file) });
  }
});
