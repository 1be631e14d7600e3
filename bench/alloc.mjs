// Bytes the gateway allocates per request, by allocating function: the micro bench's loop
// (`bench/micro.mjs`, no sockets) under V8's sampling heap profiler, counting objects that were
// collected too. Under Express each young-generation GC costs several milliseconds
// (`bench/gc-trace.mjs`), so every byte allocated per request costs CPU there.
//   node bench/run.mjs --build-only
//   MODES=json node bench/alloc.mjs [iterations=20000] [features=off] [top=30]
import { Session } from 'node:inspector/promises';
import { SourceMap } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [iterations = '20000', features = 'off', top = '30'] = process.argv.slice(2);
process.env.MICRO_AS_MODULE = '1';
// micro.js reads its features from the command line, as bench/ab.mjs hands them over.
process.argv = [process.argv[0], 'micro', '1', features, 'parsed'];
const { run } = await import('./.build/micro.js');
const stream = (process.env.MODES ?? 'json') === 'stream';
const N = Number(iterations);
for (let i = 0; i < N / 4; i++) await run(stream);

const session = new Session();
session.connect();
await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
for (let i = 0; i < N; i++) await run(stream);
const { profile } = await session.post('HeapProfiler.stopSampling');

const maps = new Map();
function where(f) {
  if (!f.url.includes('/bench/.build/')) return `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*node_modules\//, '')}:${f.lineNumber + 1}`;
  if (!maps.has(f.url)) {
    const path = fileURLToPath(f.url);
    maps.set(f.url, existsSync(`${path}.map`) ? new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8'))) : null);
  }
  const e = maps.get(f.url)?.findEntry(f.lineNumber, f.columnNumber);
  const src = e?.originalSource ? `${e.originalSource.replace(/^.*?\/(packages|bench)\//, '$1/')}:${e.originalLine + 1}` : f.url;
  return `${f.functionName || '(anonymous)'} ${src}`;
}
const self = new Map();
let total = 0;
(function walk(node) {
  const bytes = node.selfSize;
  if (bytes) {
    const key = where(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + bytes);
    total += bytes;
  }
  node.children.forEach(walk);
})(profile.head);
console.log(`${stream ? 'stream' : 'json'} ${features}: ${(total / N / 1024).toFixed(1)} KiB allocated per request (sampled)`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) console.log(`${(v / N).toFixed(0).padStart(7)} B  ${k}`);
