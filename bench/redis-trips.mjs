// What Redis does per request with budgets and limits (and optionally the cache) on it: the llmux
// Express app from bench/servers/app.mjs, one request at a time, `INFO commandstats` before and
// after. Prints the scripts and commands per request (those run inside a script included) and the
// Redis server time they took — the share of one Redis that each request through the gateway uses.
// (`MONITOR` in redis-cli shows the round trips themselves: the scripts, and a cache read or write.)
//   node bench/redis-trips.mjs [features=limits] [requests=1000]   (after `node bench/run.mjs --build-only`)
import { createClient } from 'redis';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start } from './lib/children.mjs';
import { load, poolFor } from './lib/load.mjs';

const [features = 'limits', requests = '1000'] = process.argv.slice(2);
const n = Number(requests);
const build = resolve(fileURLToPath(new URL('.', import.meta.url)), '.build');
const upstream = await start(resolve(build, 'servers/upstream.js'));
const env = { UPSTREAM: `http://127.0.0.1:${upstream.port}` };
const redis = createClient({ url: 'redis://127.0.0.1:6379' });
await redis.connect();
const stats = async () => {
  const out = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_(\w+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out[m[1]] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
};
const path = '/llm/v1/chat/completions';
const f = `${features},redis`;
const app = await start(resolve(build, 'servers/app.js'), ['llmux-express', f], env);
const pool = poolFor(`http://127.0.0.1:${app.port}`, 1);
await load(pool, { path, stream: false, n: 200, concurrency: 1 });
const before = await stats();
await load(pool, { path, stream: false, n, concurrency: 1 });
const after = await stats();
const delta = (k) => ({ calls: (after[k]?.calls ?? 0) - (before[k]?.calls ?? 0), usec: (after[k]?.usec ?? 0) - (before[k]?.usec ?? 0) });
const per = Object.keys(after)
  .filter((k) => k !== 'info' && delta(k).calls > 0)
  .map((k) => `${k} ${(delta(k).calls / n).toFixed(2)}`);
// A script's time includes the commands it ran; only commands sent on their own are added to it.
const own = ['evalsha', 'get', 'set', 'del', 'mget'].reduce((t, k) => t + delta(k).usec, 0);
console.log(`${f}: per request ${per.join(', ')}; Redis server time ${(own / n).toFixed(0)} µs (evalsha ${(delta('evalsha').usec / Math.max(1, delta('evalsha').calls)).toFixed(0)} µs a call)`);
app.child.kill();
await pool.close();
await redis.quit();
upstream.child.kill();
process.exit(0);
