// What each feature and sink adds to the gateway's own CPU per request, in-process (`bench/micro.mjs`:
// no sockets, no framework, the upstream answered from memory, one request at a time): the table in
// docs/performance.md. Each configuration runs in its own process, pinned to one core, right after a
// run with everything off; a pass does that for every configuration, and each cell is the median over
// the passes (the "vs off" column: the median of the paired differences, so a burst of outside load
// lands on both sides of a pair rather than on one configuration).
//   node bench/run.mjs --build-only
//   node bench/feature-costs.mjs [iterations=20000] [passes=5]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { corePinning } from './lib/children.mjs';
import { percentile } from './lib/load.mjs';

const [iterations = '20000', passes = '5'] = process.argv.slice(2);
const pinning = corePinning();
const micro = fileURLToPath(new URL('./.build/micro.js', import.meta.url));

/** label, micro's features and body kind, extra environment. Sinks write to a discarded stdout. */
const CONFIGS = [
  ['everything off (sinks off, body parsed by the framework)', 'off', 'parsed', {}],
  ['raw body read and parsed by llmux (ahead of a body parser)', 'off', 'raw', {}],
  ['recent-requests ring off (`recentRequests: 0`)', 'off', 'parsed', { MICRO_RING: '0' }],
  ['default observability (pino line, metrics, tracing API)', 'defaults', 'parsed', {}],
  ['default pino logger only', 'defaults', 'parsed', { MICRO_SINKS: 'logger' }],
  ['pino logger with a synchronous destination, only', 'defaults', 'parsed', { MICRO_SINKS: 'logger', MICRO_LOGGER: 'pino-sync' }],
  ['pino logger through a transport (worker thread), only', 'defaults', 'parsed', { MICRO_SINKS: 'logger', MICRO_LOGGER: 'pino-transport' }],
  ['Prometheus metrics only', 'defaults', 'parsed', { MICRO_SINKS: 'metrics' }],
  ['tracing only (no OpenTelemetry SDK registered)', 'defaults', 'parsed', { MICRO_SINKS: 'tracing' }],
  ['exact cache, miss (a new prompt each time)', 'cache', 'parsed', {}],
  ['exact cache, hit', 'hit', 'parsed', {}],
  ['budgets + rate limits (memory store)', 'limits', 'parsed', {}],
  ['cache miss + budgets + rate limits (memory store)', 'cache,limits', 'parsed', {}],
];
const MODES = ['json', 'stream'];

function once(features, body, env, mode) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [micro, iterations, features, body], {
      env: { ...process.env, ...env, MODES: mode },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    pinning.pinApp(child.pid);
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const m = /([\d.]+) µs CPU\/req/.exec(err);
      if (code !== 0 || !m) reject(new Error(`micro ${features} ${body} ${mode}: exit ${code}\n${err}`));
      else resolve(Number(m[1]));
    });
  });
}

const median = (v) => percentile(v, 50);
const results = new Map(); // `${i}|${mode}` → [{ value, off }] per pass
for (let pass = 0; pass < Number(passes); pass++) {
  for (const mode of MODES) {
    for (const [i, [, features, body, env]] of CONFIGS.entries()) {
      const off = await once('off', 'parsed', {}, mode);
      const value = i === 0 ? off : await once(features, body, env, mode);
      const key = `${i}|${mode}`;
      results.set(key, [...(results.get(key) ?? []), { value, off }]);
      process.stderr.write('.');
    }
  }
}
process.stderr.write('\n');

const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(`Produced by \`node bench/feature-costs.mjs ${iterations} ${passes}\` on ${when} UTC, Node ${process.version}: medians over ${passes} passes of ${iterations} requests a run.\n`);
console.log('| configuration | non-stream µs/req | vs off | stream µs/req | vs off |');
console.log('|---|---:|---:|---:|---:|');
for (const [i, [label]] of CONFIGS.entries()) {
  const cells = MODES.flatMap((m) => {
    const runs = results.get(`${i}|${m}`);
    const d = median(runs.map((r) => r.value - r.off));
    return [median(runs.map((r) => r.value)).toFixed(1), i === 0 ? '—' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`];
  });
  console.log(`| ${label} | ${cells.join(' | ')} |`);
}
