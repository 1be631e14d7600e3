// The load generator: `concurrency` workers, each sending the next request once its last one ended.
import { Pool } from 'undici';

/** A keep-alive pool to one server; sockets outlive the pauses while other configurations run. */
export const poolFor = (origin, connections) => new Pool(origin, { connections, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });

const percentileOf = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** p-th percentile (nearest rank) of unsorted samples. */
export function percentile(samples, p) {
  return percentileOf([...samples].sort((a, b) => a - b), p);
}

/** A bench mode's requests: `json` non-stream, `stream` the short stream, `long` a 200-token stream. */
export const requestShape = (mode) => ({ stream: mode !== 'json', long: mode === 'long' });

let counter = 0;
const HEADERS = { 'content-type': 'application/json', authorization: 'Bearer client-key' };

/**
 * Request bodies: a cache miss needs a new prompt each time; everything else sends the same one.
 * `long`: a stream asked for "at length", which the bench upstream answers with many tokens.
 */
export function chatBody(stream, unique, long) {
  const text = (unique ? `Say hello #${counter++} to the benchmark` : 'Say hello to the benchmark') + (long ? ', at length' : '');
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: text }], ...(stream ? { stream: true } : {}) });
}

/**
 * Sends `n` chat requests over `pool` with `concurrency` in flight. Returns per-request latency
 * (until the last body byte) and time to the first body byte, in ms, and the wall time in s.
 */
export async function load(pool, { path, stream, unique, long, n, concurrency }) {
  const latencies = [];
  const ttfb = [];
  let next = 0;
  const started = performance.now();
  async function worker() {
    while (next < n) {
      next++;
      const body = chatBody(stream, unique, long);
      const t0 = performance.now();
      const res = await pool.request({ path, method: 'POST', headers: HEADERS, body });
      let first = true;
      for await (const _ of res.body) {
        if (first) {
          ttfb.push(performance.now() - t0);
          first = false;
        }
      }
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode} on ${path}`);
      latencies.push(performance.now() - t0);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, ttfb, seconds: (performance.now() - started) / 1000 };
}
