/** Response cache entries and the semantic index. */
export interface CacheStore {}
