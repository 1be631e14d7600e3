import type { VectorMatch } from '../store/cache-store.js';
import { dot } from './vector-codec.js';

/** What storing vectors as 32-bit floats can take off a cosine similarity. */
const SCORE_TOLERANCE = 1e-6;

/** Options for the in-process semantic index. */
export interface VectorIndexOptions {
  /** Most vectors kept over all partitions; the oldest are dropped first. Default 10000 (≈ 60 MB at 1536 dims). */
  maxEntries?: number;
}

/*
 * Vectors live per partition in one Float32Array (row = vector), unit length, so similarity is a dot
 * product. A small partition is scanned whole. Once a scan would cost more than FLAT_BUDGET
 * multiply-adds (≈ 1 ms in V8: 1e9 multiply-adds/s measured), the partition also keeps random-
 * hyperplane LSH codes: a search looks only at rows that share a bucket with the query or sit one bit
 * away from it (multi-probe), drops those whose 192-bit code is too far in Hamming distance for the
 * threshold (reading a 6 KB row at random costs ~6 µs of memory stalls, its 24-byte code almost
 * nothing), and scores the rest exactly. So LSH can only cause a miss, never a wrong hit; it is used
 * only while the chance of missing a vector that sits exactly at the threshold stays under MAX_MISS
 * (thresholds ≥ ~0.91), lower thresholds scan exactly.
 */
const BITS = 16;
const TABLES = 12;
const BUCKETS = 1 << BITS;
const FLAT_BUDGET = 1 << 20;
const MAX_MISS = 0.01;

/** Chance that one random hyperplane separates two vectors at cosine `similarity`. */
const flipChance = (similarity: number) => Math.acos(Math.min(1, Math.max(-1, similarity))) / Math.PI;

/** The chance that a vector at cosine `threshold` from the query shares no probed bucket with it. */
export function lshMissProbability(threshold: number): number {
  const p = 1 - flipChance(threshold);
  const perTable = p ** BITS + BITS * p ** (BITS - 1) * (1 - p);
  return (1 - perTable) ** TABLES;
}

const cutoffs = new Map<number, number>();

/** The Hamming distance over all codes that a vector at `threshold` exceeds with chance < 1e-6 (binomial tail). */
function hammingCutoff(threshold: number): number {
  let cutoff = cutoffs.get(threshold);
  if (cutoff !== undefined) return cutoff;
  const n = TABLES * BITS;
  const q = flipChance(threshold);
  cutoff = n;
  if (q < 1) {
    let pmf = (1 - q) ** n;
    let cdf = pmf;
    for (let d = 0; d < n; d++) {
      if (1 - cdf < 1e-6) {
        cutoff = d;
        break;
      }
      pmf *= ((n - d) / (d + 1)) * (q / (1 - q));
      cdf += pmf;
    }
  }
  if (cutoffs.size > 64) cutoffs.clear();
  cutoffs.set(threshold, cutoff);
  return cutoff;
}

let popcounts: Uint8Array | undefined;
function popcount16(): Uint8Array {
  if (popcounts) return popcounts;
  popcounts = new Uint8Array(1 << 16);
  for (let i = 1; i < popcounts.length; i++) popcounts[i] = (i & 1) + popcounts[i >> 1]!;
  return popcounts;
}

const planesByDims = new Map<number, Float32Array>();

/** Gaussian hyperplanes from a fixed seed: every process hashes alike, so results are reproducible. */
function planesFor(dims: number): Float32Array {
  let planes = planesByDims.get(dims);
  if (planes) return planes;
  planes = new Float32Array(TABLES * BITS * dims);
  let seed = 0x9e3779b9 ^ dims;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = 0; i < planes.length; i++) planes[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  planesByDims.set(dims, planes);
  return planes;
}

/**
 * The 192 hyperplane signs of `v`, eight planes per pass: each `v[i]` is loaded once for eight
 * independent sums. This is most of a search's and an insert's time (295k multiply-adds at 1536
 * dims); measured 185 µs against 313 µs for one `dot` per plane (Node 20, 2-core EPYC).
 */
function codesOf(v: Float32Array, dims: number, out: Uint16Array, at: number): void {
  const planes = planesFor(dims);
  for (let t = 0; t < TABLES; t++) {
    let code = 0;
    for (let b = 0; b < BITS; b += 8) {
      const o0 = (t * BITS + b) * dims;
      const o1 = o0 + dims, o2 = o1 + dims, o3 = o2 + dims, o4 = o3 + dims, o5 = o4 + dims, o6 = o5 + dims, o7 = o6 + dims;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let i = 0; i < dims; i++) {
        const x = v[i]!;
        s0 += x * planes[o0 + i]!;
        s1 += x * planes[o1 + i]!;
        s2 += x * planes[o2 + i]!;
        s3 += x * planes[o3 + i]!;
        s4 += x * planes[o4 + i]!;
        s5 += x * planes[o5 + i]!;
        s6 += x * planes[o6 + i]!;
        s7 += x * planes[o7 + i]!;
      }
      code |= ((s0 > 0 ? 1 : 0) | (s1 > 0 ? 2 : 0) | (s2 > 0 ? 4 : 0) | (s3 > 0 ? 8 : 0) | (s4 > 0 ? 16 : 0) | (s5 > 0 ? 32 : 0) | (s6 > 0 ? 64 : 0) | (s7 > 0 ? 128 : 0)) << b;
    }
    out[at + t] = code;
  }
}

/** Bucket lists as intrusive doubly linked lists over slots: no per-entry objects, O(1) unlink. */
class Lsh {
  private readonly head = new Int32Array(TABLES * BUCKETS).fill(-1);
  private codes: Uint16Array;
  private next: Int32Array;
  private prev: Int32Array;
  private readonly query = new Uint16Array(TABLES);

  constructor(private readonly dims: number, capacity: number) {
    this.codes = new Uint16Array(capacity * TABLES);
    this.next = new Int32Array(capacity * TABLES);
    this.prev = new Int32Array(capacity * TABLES);
  }

  grow(capacity: number): void {
    const grow = <T extends Uint16Array | Int32Array>(a: T, make: (n: number) => T) => {
      const b = make(capacity * TABLES);
      b.set(a);
      return b;
    };
    this.codes = grow(this.codes, (n) => new Uint16Array(n));
    this.next = grow(this.next, (n) => new Int32Array(n));
    this.prev = grow(this.prev, (n) => new Int32Array(n));
  }

  link(slot: number, rows: Float32Array): void {
    codesOf(rows.subarray(slot * this.dims, (slot + 1) * this.dims), this.dims, this.codes, slot * TABLES);
    for (let t = 0; t < TABLES; t++) {
      const i = slot * TABLES + t;
      const bucket = t * BUCKETS + this.codes[i]!;
      const first = this.head[bucket]!;
      this.next[i] = first;
      this.prev[i] = -1;
      if (first >= 0) this.prev[first * TABLES + t] = slot;
      this.head[bucket] = slot;
    }
  }

  unlink(slot: number): void {
    for (let t = 0; t < TABLES; t++) {
      const i = slot * TABLES + t;
      const n = this.next[i]!;
      const p = this.prev[i]!;
      if (p >= 0) this.next[p * TABLES + t] = n;
      else this.head[t * BUCKETS + this.codes[i]!] = n;
      if (n >= 0) this.prev[n * TABLES + t] = p;
    }
  }

  /**
   * Slots in the query's buckets and their one-bit neighbours whose whole code is within `maxDistance`
   * bits of the query's, each once (`seen` holds the last epoch a slot was looked at).
   */
  candidates(q: Float32Array, maxDistance: number, seen: Uint32Array, epoch: number, out: number[]): void {
    codesOf(q, this.dims, this.query, 0);
    const pop = popcount16();
    const { codes, next, head, query } = this;
    for (let t = 0; t < TABLES; t++) {
      const code = query[t]!;
      for (let b = -1; b < BITS; b++) {
        const probe = b < 0 ? code : code ^ (1 << b);
        for (let s = head[t * BUCKETS + probe]!; s >= 0; s = next[s * TABLES + t]!) {
          if (seen[s] === epoch) continue;
          seen[s] = epoch;
          let distance = 0;
          for (let u = 0, at = s * TABLES; u < TABLES; u++) distance += pop[codes[at + u]! ^ query[u]!]!;
          if (distance <= maxDistance) out.push(s);
        }
      }
    }
  }
}

class Partition {
  rows: Float32Array;
  expires: Float64Array;
  ids: string[] = [];
  readonly slots = new Map<string, number>();
  private readonly free: number[] = [];
  private used = 0;
  private capacity: number;
  private lsh: Lsh | undefined;
  private seen: Uint32Array;
  private epoch = 0;
  private readonly found: number[] = [];

  constructor(readonly dims: number) {
    // Room for one, doubling as it fills: clients make a partition per system prompt, namespace and
    // user, and most hold a vector or two, so room for eight each would cost eight times the vectors held.
    this.capacity = 1;
    this.rows = new Float32Array(this.capacity * dims);
    this.expires = new Float64Array(this.capacity);
    this.seen = new Uint32Array(this.capacity);
  }

  get size(): number {
    return this.slots.size;
  }

  add(id: string, v: Float32Array, expiresAt: number): void {
    let slot = this.slots.get(id);
    if (slot !== undefined) this.lsh?.unlink(slot);
    else {
      slot = this.free.pop() ?? this.take();
      this.slots.set(id, slot);
      this.ids[slot] = id;
    }
    this.rows.set(v, slot * this.dims);
    this.expires[slot] = expiresAt;
    if (this.lsh) this.lsh.link(slot, this.rows);
    else if (this.size * this.dims > FLAT_BUDGET) {
      this.lsh = new Lsh(this.dims, this.capacity);
      for (const s of this.slots.values()) this.lsh.link(s, this.rows);
    }
  }

  private take(): number {
    if (this.used === this.capacity) {
      this.capacity *= 2;
      const rows = new Float32Array(this.capacity * this.dims);
      rows.set(this.rows);
      this.rows = rows;
      const expires = new Float64Array(this.capacity);
      expires.set(this.expires);
      this.expires = expires;
      this.seen = new Uint32Array(this.capacity);
      this.epoch = 0;
      this.lsh?.grow(this.capacity);
    }
    return this.used++;
  }

  delete(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    this.lsh?.unlink(slot);
    this.slots.delete(id);
    this.ids[slot] = '';
    this.free.push(slot);
  }

  search(q: Float32Array, minScore: number, now: number, expired: string[]): VectorMatch | undefined {
    // Vectors are kept as 32-bit floats: two equal embeddings score just under 1, and any similarity
    // exactly at the threshold may land a hair below it. "At or above" allows for that rounding.
    let bestScore = minScore - SCORE_TOLERANCE;
    let bestSlot = -1;
    const score = (slot: number) => {
      if (this.expires[slot]! <= now) {
        expired.push(this.ids[slot]!);
        return;
      }
      const s = dot(q, this.rows, slot * this.dims, this.dims);
      if (s >= bestScore) {
        bestScore = s;
        bestSlot = slot;
      }
    };
    if (this.lsh && lshMissProbability(minScore) <= MAX_MISS) {
      if (++this.epoch === 0xffffffff) {
        this.seen.fill(0);
        this.epoch = 1;
      }
      this.found.length = 0;
      this.lsh.candidates(q, hammingCutoff(minScore), this.seen, this.epoch, this.found);
      for (const slot of this.found) score(slot);
    } else {
      for (let slot = 0; slot < this.used; slot++) if (this.ids[slot]) score(slot);
    }
    return bestSlot < 0 ? undefined : { id: this.ids[bestSlot]!, score: Math.min(1, bestScore) };
  }
}

/**
 * The in-process semantic index: partitions of unit vectors, bounded in total size (oldest out
 * first), entries expire at their own time. Used directly by the memory store and as the local
 * mirror of shared indexes (Redis, Keyv). Vectors must be unit length (see `normalise`).
 */
export class VectorIndex {
  private readonly partitions = new Map<string, Partition>();
  /** Every id in insertion order, with its partition: the size bound drops from the front. */
  private readonly order = new Map<string, string>();
  private readonly maxEntries: number;

  constructor(options: VectorIndexOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  get size(): number {
    return this.order.size;
  }

  has(id: string): boolean {
    return this.order.has(id);
  }

  add(partition: string, id: string, vector: Float32Array, expiresAt: number): void {
    const previous = this.order.get(id);
    if (previous !== undefined && previous !== partition) this.delete(id);
    let p = this.partitions.get(partition);
    // A partition's embedding model is part of its key; a new shape means its old vectors are useless.
    if (p && p.dims !== vector.length) {
      for (const old of p.slots.keys()) this.order.delete(old);
      p = undefined;
    }
    if (!p) this.partitions.set(partition, (p = new Partition(vector.length)));
    p.add(id, vector, expiresAt);
    this.order.delete(id);
    this.order.set(id, partition);
    while (this.order.size > this.maxEntries) {
      const oldest = this.order.keys().next().value as string;
      this.delete(oldest);
    }
  }

  search(partition: string, query: Float32Array, minScore: number, now = Date.now()): VectorMatch | undefined {
    const p = this.partitions.get(partition);
    if (!p || p.dims !== query.length) return undefined;
    const expired: string[] = [];
    const match = p.search(query, minScore, now, expired);
    for (const id of expired) this.delete(id);
    return match;
  }

  delete(id: string): void {
    const partition = this.order.get(id);
    if (partition === undefined) return;
    this.order.delete(id);
    const p = this.partitions.get(partition);
    if (!p) return;
    p.delete(id);
    if (p.size === 0) this.partitions.delete(partition);
  }

  clear(): void {
    this.partitions.clear();
    this.order.clear();
  }
}
