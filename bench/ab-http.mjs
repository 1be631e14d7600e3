// A/B over HTTP: the same app kind from two builds (see bench/ab.mjs for building one from another
// tree), against one mock upstream, rounds interleaved; prints the app's CPU µs/request for each.
//   node bench/ab-http.mjs <buildA> <buildB> [kind=llmux-express] [features=off|<A>/<B>] [mode=json|stream|long] [rounds=6] [requests=1500]
import { resolve } from 'node:path';
import { APP_FLAGS, corePinning, start, stats, cpuBetween } from './lib/children.mjs';
import { load, poolFor, requestShape } from './lib/load.mjs';

const [a, b, kind = 'llmux-express', features = 'off', mode = 'json', rounds = '6', requests = '1500'] = process.argv.slice(2);
const shape = requestShape(mode);
// As bench/run.mjs: apps on the last core, this load generator and the upstream on the others.
const pinning = corePinning();
pinning.pinOther(process.pid);
const upstream = await start(resolve(a, 'servers/upstream.js'));
pinning.pinOther(upstream.child.pid);
const env = { UPSTREAM: `http://127.0.0.1:${upstream.port}` };
const apps = [];
// `kind` may name two kinds, `<A kind>/<B kind>` (e.g. a floor against llmux, from one build).
const kinds = kind.split('/');
// `features` may too (e.g. `off/limits`: what a feature costs on one kind).
const featureSets = features.split('/');
for (const [i, dir] of [a, b].entries()) {
  const app = await start(resolve(dir, 'servers/app.js'), [kinds[i] ?? kinds[0], featureSets[i] ?? featureSets[0]], env, APP_FLAGS);
  pinning.pinApp(app.child.pid);
  // A side with the cache on asks a new question each time (a miss), as bench/run.mjs's miss rows do.
  const unique = (featureSets[i] ?? featureSets[0]).split(',').includes('cache');
  apps.push({ dir, child: app.child, pool: poolFor(`http://127.0.0.1:${app.port}`, 16), cpu: [], unique });
}
const path = '/llm/v1/chat/completions';
for (const app of apps) await load(app.pool, { path, ...shape, unique: app.unique, n: shape.long ? 250 : 2000, concurrency: 16 });
for (let r = 0; r < Number(rounds); r++) {
  for (const app of r % 2 ? [...apps].reverse() : apps) {
    const before = await stats(app.child);
    await load(app.pool, { path, ...shape, unique: app.unique, n: Number(requests), concurrency: 16 });
    app.cpu.push(cpuBetween(before, await stats(app.child)) / Number(requests));
  }
}
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
for (const app of apps) console.log(`${kind} ${features} ${mode} ${app.dir}: median ${median(app.cpu).toFixed(0)} µs CPU/req (${app.cpu.map((c) => c.toFixed(0)).join(' ')})`);
const diffs = apps[0].cpu.map((x, i) => apps[1].cpu[i] - x);
console.log(`B − A: median of paired differences ${median(diffs).toFixed(0)} µs; B / A: median of paired ratios ${median(apps[1].cpu.map((y, i) => y / apps[0].cpu[i])).toFixed(2)}×`);
process.exit(0);
