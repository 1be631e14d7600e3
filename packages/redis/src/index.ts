export { createRedisStore, type AnyRedisClient, type RedisStore, type RedisStoreOptions } from './create-redis-store.js';
export type { RedisCacheOptions } from './cache.js';
export type { FailMode } from './limits.js';
