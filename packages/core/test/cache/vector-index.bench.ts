/**
 * Semantic lookup time of the in-memory index at 100k entries × 1536 dims (embedding call excluded).
 * Not a test (timings vary by machine): run `npx tsx packages/core/test/cache/vector-index.bench.ts`.
 * Two layouts: every entry in one partition (one system prompt, single-turn questions: the LSH path),
 * and 1000 partitions of 100 (many conversations: exact scans).
 */
import { VectorIndex, lshMissProbability } from '../../src/cache/vector-index.js';
import { normalise } from '../../src/cache/vector-codec.js';

const DIMS = 1536;
const N = Number(process.env.N ?? 100_000);
const QUERIES = 2000;
let seed = 42;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

function randomUnit(): Float32Array {
  const v = new Float32Array(DIMS);
  for (let i = 0; i < DIMS; i++) v[i] = gauss();
  return normalise(v)!;
}

/** A vector at cosine ≈ `cos` from `base`. */
function near(base: Float32Array, cos: number): Float32Array {
  const noise = randomUnit();
  const out = new Float32Array(DIMS);
  const s = Math.sqrt(1 - cos * cos);
  for (let i = 0; i < DIMS; i++) out[i] = cos * base[i]! + s * noise[i]!;
  return normalise(out)!;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function run(name: string, partitionOf: (i: number) => string): void {
  const index = new VectorIndex({ maxEntries: N });
  const stored: Float32Array[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const v = randomUnit();
    if (i % (N / QUERIES) === 0) stored[i] = v;
    index.add(partitionOf(i), `id${i}`, v, Number.MAX_SAFE_INTEGER);
  }
  const insertMs = performance.now() - t0;
  const times: number[] = [];
  let found = 0;
  let planted = 0;
  for (let q = 0; q < QUERIES; q++) {
    const hitCase = q % 2 === 0;
    const i = (q * (N / QUERIES)) | 0;
    const query = hitCase ? near(stored[i]!, 0.97) : randomUnit();
    const start = performance.now();
    const m = index.search(partitionOf(i), query, 0.95);
    times.push(performance.now() - start);
    if (hitCase) {
      planted++;
      if (m?.id === `id${i}`) found++;
    }
  }
  times.sort((a, b) => a - b);
  console.log(
    `${name}: insert ${(insertMs / N).toFixed(3)} ms/entry; lookup p50 ${percentile(times, 50).toFixed(3)} ms, ` +
      `p99 ${percentile(times, 99).toFixed(3)} ms, max ${times[times.length - 1]!.toFixed(3)} ms; ` +
      `near-duplicates (cos 0.97) found ${found}/${planted}`,
  );
}

console.log(`N=${N} dims=${DIMS}; LSH miss probability at the threshold 0.95: ${lshMissProbability(0.95).toExponential(2)}`);
run('one partition', () => 'p');
run('1000 partitions', (i) => `p${i % 1000}`);
