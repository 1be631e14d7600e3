// Semantic lookup in the in-process VectorIndex (what the memory and Redis cache stores search),
// embedding call excluded: N unit vectors of 1536 dims (text-embedding-3-small) in one partition —
// one system prompt, single-turn questions, the LSH path — then 2000 lookups at the default threshold
// 0.95, half of them near-duplicates (cosine 0.97) of a stored vector. Run by bench/run.mjs, or alone:
// `node bench/.build/semantic.js [entries]` after a bench build.
import { VectorIndex, normalise } from '@llmux/core';

const DIMS = 1536;
const N = Number(process.argv[2] ?? 100_000);
const QUERIES = 2000;
const THRESHOLD = 0.95;

let seed = 42;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
/** Isotropic random unit vector (Box–Muller, both outputs used). */
function randomUnit() {
  const v = new Float32Array(DIMS);
  for (let i = 0; i < DIMS; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const a = 2 * Math.PI * rand();
    v[i] = r * Math.cos(a);
    v[i + 1] = r * Math.sin(a);
  }
  return normalise(v);
}
/** A vector at cosine `cos` from `base`. */
function near(base, cos) {
  const noise = randomUnit();
  let along = 0;
  for (let i = 0; i < DIMS; i++) along += noise[i] * base[i];
  const out = new Float32Array(DIMS);
  for (let i = 0; i < DIMS; i++) out[i] = noise[i] - along * base[i];
  normalise(out);
  const s = Math.sqrt(1 - cos * cos);
  for (let i = 0; i < DIMS; i++) out[i] = cos * base[i] + s * out[i];
  return normalise(out);
}

/**
 * The stored vectors: a pool of Gaussian ones, each reused with its coordinates' signs flipped at
 * random — still isotropic random unit vectors (every coordinate's law is symmetric), at a fraction
 * of the cost of drawing 1536 fresh Gaussians per entry, which would dominate the bench's time.
 */
const pool = Array.from({ length: 1000 }, randomUnit);
function storedVector(i) {
  const base = pool[i % pool.length];
  const v = new Float32Array(DIMS);
  for (let j = 0; j < DIMS; j += 32) {
    let bits = (rand() * 4294967296) >>> 0;
    for (let k = j; k < j + 32 && k < DIMS; k++, bits >>>= 1) v[k] = bits & 1 ? -base[k] : base[k];
  }
  return v;
}

const index = new VectorIndex({ maxEntries: N });
const every = Math.max(1, Math.floor(N / QUERIES));
const planted = new Map();
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const v = storedVector(i);
  if (i % every === 0) planted.set(i, v);
  index.add('partition', `id${i}`, v, Number.MAX_SAFE_INTEGER);
}
const insertMs = (performance.now() - t0) / N;

const queries = [];
for (let q = 0; q < QUERIES; q++) {
  const i = ((q >> 1) * every * 2) % N;
  queries.push(q % 2 === 0 && planted.has(i) ? { vector: near(planted.get(i), 0.97), expect: `id${i}` } : { vector: randomUnit() });
}
// Warm the JIT on a tenth of the queries, then time them all.
for (let q = 0; q < QUERIES / 10; q++) index.search('partition', queries[q].vector, THRESHOLD);
const times = [];
let found = 0;
let wanted = 0;
let falseHits = 0;
for (const q of queries) {
  const start = performance.now();
  const m = index.search('partition', q.vector, THRESHOLD);
  times.push(performance.now() - start);
  if (q.expect) {
    wanted++;
    if (m?.id === q.expect) found++;
  } else if (m) falseHits++;
}
times.sort((a, b) => a - b);
const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
const result = { entries: N, dims: DIMS, threshold: THRESHOLD, queries: QUERIES, insertMs, p50: pct(50), p99: pct(99), max: times[times.length - 1], found, wanted, falseHits };
if (process.send) process.send(result);
else console.log(result);
