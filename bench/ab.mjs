// A/B of the gateway's own CPU per request (bench/micro.mjs) between two builds, in one process:
// blocks of requests alternate between the two, so the machine's load (other processes on a
// shared 2-core box) falls on both alike. Prints µs CPU/request of each and the difference.
//   BENCH_SRC=<other tree> BENCH_OUT=$PWD/bench/.build-base node bench/run.mjs --build-only
//   node bench/run.mjs --build-only
//   node bench/ab.mjs bench/.build-base bench/.build [mode=json|stream] [features=off] [blocks=40] [block=250] [body=parsed|raw]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [a, b, mode = 'json', features = 'off', blocks = '40', block = '250', body = 'parsed'] = process.argv.slice(2);
process.env.MICRO_AS_MODULE = '1';
process.argv = [process.argv[0], 'micro', '1', features, body];
const load = async (dir) => (await import(pathToFileURL(resolve(dir, 'micro.js')).href)).run;
const runs = { [a]: await load(a), [b]: await load(b) };
const stream = mode === 'stream';
const cpu = { [a]: [], [b]: [] };
for (const dir of [a, b]) for (let i = 0; i < 2000; i++) await runs[dir](stream);
for (let k = 0; k < Number(blocks); k++) {
  for (const dir of k % 2 ? [b, a] : [a, b]) {
    const before = process.cpuUsage();
    for (let i = 0; i < Number(block); i++) await runs[dir](stream);
    const used = process.cpuUsage(before);
    cpu[dir].push((used.user + used.system) / Number(block));
  }
}
const sorted = (v) => [...v].sort((x, y) => x - y);
const median = (v) => sorted(v)[Math.floor(v.length / 2)];
const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
for (const dir of [a, b]) console.log(`${mode} ${features} ${body} ${dir}: median ${median(cpu[dir]).toFixed(1)}, mean ${mean(cpu[dir]).toFixed(1)}, min ${sorted(cpu[dir])[0].toFixed(1)} µs CPU/req`);
const diffs = cpu[a].map((x, i) => cpu[b][i] - x);
console.log(`${b} − ${a}: median of paired differences ${median(diffs).toFixed(1)} µs (${((100 * median(diffs)) / median(cpu[a])).toFixed(1)}%)`);
process.exit(0);
