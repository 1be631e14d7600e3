/** The closest vector the semantic index found, with its cosine similarity to the query. */
export interface VectorMatch {
  /** The key of the cache entry the vector was stored for. */
  id: string;
  score: number;
}

/**
 * Response cache entries and the semantic index. Values are opaque strings (the cache stage encodes
 * and checks them), so any key-value engine fits. Every operation may fail or hang: the cache stage
 * bounds each wait and treats a failure as a miss, so a broken cache never breaks a request.
 */
export interface CacheStore {
  /**
   * Answers from this process's memory, without I/O, so an operation can neither hang nor time out:
   * the cache stage then runs it without arming a timer for it. Default false.
   */
  readonly inProcess?: boolean;
  /** The stored value, or undefined when absent or expired. */
  cacheGet(key: string): Promise<string | undefined>;
  /** Stores a value that expires after `ttlMs`. */
  cacheSet(key: string, value: string, ttlMs: number): Promise<void>;
  cacheDelete(key: string): Promise<void>;
  /**
   * Adds (or replaces) a unit-length vector under `id` in one partition of the semantic index.
   * Partitions are exact-match groups: a search only ever sees vectors of its own partition.
   */
  cacheIndexAdd(partition: string, id: string, vector: Float32Array, ttlMs: number): Promise<void>;
  /** The most similar live vector of the partition whose cosine similarity is at least `minScore`. */
  cacheIndexSearch(partition: string, vector: Float32Array, minScore: number): Promise<VectorMatch | undefined>;
  /** Forgets a vector whose entry turned out to be gone. */
  cacheIndexDelete(partition: string, id: string): Promise<void>;
}
