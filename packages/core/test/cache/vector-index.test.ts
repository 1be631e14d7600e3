import { describe, expect, it } from 'vitest';
import { decodeVector, dot, encodeVector, normalise } from '../../src/cache/vector-codec.js';
import { lshMissProbability, VectorIndex } from '../../src/cache/vector-index.js';

let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const randomUnit = (dims: number) => normalise(Float32Array.from({ length: dims }, gauss))!;
const unit = (...xs: number[]) => normalise(Float32Array.from(xs))!;

/** A unit vector at cosine ≈ `cos` from `base`. */
function near(base: Float32Array, cos: number): Float32Array {
  const noise = randomUnit(base.length);
  const s = Math.sqrt(1 - cos * cos);
  return normalise(base.map((x, i) => cos * x + s * noise[i]!))!;
}

describe('vector codec', () => {
  it('round-trips float32 through base64 (little-endian, like OpenAI encoding_format=base64)', () => {
    const v = Float32Array.from([0.5, -1.25, 3e-7, 0]);
    expect(decodeVector(encodeVector(v))).toEqual(v);
    expect(encodeVector(Float32Array.from([1]))).toBe('AACAPw==');
    expect(decodeVector('not base64!')).toBeUndefined();
    expect(decodeVector('AAA=')).toBeUndefined();
  });

  it('normalises to unit length and refuses a zero vector', () => {
    expect(dot(unit(3, 4), unit(3, 4))).toBeCloseTo(1, 6);
    expect(normalise(new Float32Array(3))).toBeUndefined();
  });
});

describe('VectorIndex', () => {
  it('returns the most similar live vector at or above the threshold', () => {
    const index = new VectorIndex();
    index.add('p', 'a', unit(1, 0, 0), Infinity);
    index.add('p', 'b', unit(1, 1, 0), Infinity);
    expect(index.search('p', unit(1, 0.1, 0), 0.9)).toMatchObject({ id: 'a' });
    expect(index.search('p', unit(1, 0.9, 0), 0.9)).toMatchObject({ id: 'b' });
    expect(index.search('p', unit(0, 0, 1), 0.5)).toBeUndefined();
    expect(index.search('p', unit(1, 0, 0), 0.9)!.score).toBeCloseTo(1, 6);
  });

  it('keeps partitions apart and ignores a query of another dimension', () => {
    const index = new VectorIndex();
    index.add('p', 'a', unit(1, 0), Infinity);
    expect(index.search('q', unit(1, 0), 0.5)).toBeUndefined();
    expect(index.search('p', unit(1, 0, 0), 0.5)).toBeUndefined();
  });

  it('replaces a vector added again under the same id', () => {
    const index = new VectorIndex();
    index.add('p', 'a', unit(1, 0), Infinity);
    index.add('p', 'a', unit(0, 1), Infinity);
    expect(index.size).toBe(1);
    expect(index.search('p', unit(1, 0), 0.5)).toBeUndefined();
    expect(index.search('p', unit(0, 1), 0.5)?.id).toBe('a');
  });

  it('drops expired vectors and deleted ones', () => {
    const index = new VectorIndex();
    index.add('p', 'old', unit(1, 0), 1000);
    index.add('p', 'new', unit(1, 0.2), 3000);
    expect(index.search('p', unit(1, 0), 0.9, 500)?.id).toBe('old');
    expect(index.search('p', unit(1, 0), 0.9, 2000)?.id).toBe('new');
    expect(index.size).toBe(1);
    index.delete('new');
    expect(index.search('p', unit(1, 0), 0.9, 2000)).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('stays within maxEntries, dropping the oldest first', () => {
    const index = new VectorIndex({ maxEntries: 3 });
    for (let i = 0; i < 5; i++) index.add(`p${i % 2}`, `id${i}`, unit(1, i), Infinity);
    expect(index.size).toBe(3);
    expect(index.has('id0')).toBe(false);
    expect(index.has('id1')).toBe(false);
    expect(index.has('id4')).toBe(true);
  });

  it('uses LSH only where it would rarely miss a match at the threshold', () => {
    expect(lshMissProbability(0.95)).toBeLessThan(1e-3);
    expect(lshMissProbability(0.8)).toBeGreaterThan(0.01);
  });

  it('finds near-duplicates through its LSH tables in a large partition, and never a wrong match', () => {
    const dims = 128;
    const rows = 8500; // 8500 × 128 multiply-adds is past the exact-scan budget: the partition hashes its rows
    const index = new VectorIndex({ maxEntries: rows });
    const kept: Float32Array[] = [];
    for (let i = 0; i < rows; i++) {
      const v = randomUnit(dims);
      kept.push(v);
      index.add('big', `r${i}`, v, Infinity);
    }
    let found = 0;
    for (let q = 0; q < 200; q++) {
      const i = (q * 29) % rows;
      const match = index.search('big', near(kept[i]!, 0.97), 0.95);
      if (match?.id === `r${i}`) found++;
      expect(index.search('big', randomUnit(dims), 0.95)).toBeUndefined();
    }
    expect(found).toBeGreaterThanOrEqual(199);
    // Low thresholds scan exactly: a vector at cosine ~0.6 is still found.
    const far = near(kept[5]!, 0.6);
    expect(index.search('big', far, 0.5)?.id).toBe('r5');
    // Deletes unlink rows from the hash tables; freed slots are reused.
    index.delete('r29');
    expect(index.search('big', near(kept[29]!, 0.99), 0.95)).toBeUndefined();
    index.add('big', 'again', kept[29]!, Infinity);
    expect(index.search('big', near(kept[29]!, 0.99), 0.95)?.id).toBe('again');
  });
});
