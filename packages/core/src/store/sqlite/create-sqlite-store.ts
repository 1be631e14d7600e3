import { createMemoryStore } from '../memory/create-memory-store.js';
import type { GatewayStore } from '../types.js';
import { sqliteLimits } from './limits.js';
import { openDatabase, type SqliteDatabase } from './open-database.js';

/** Options for the embedded file store. */
export interface SqliteStoreOptions {
  /** The database file; created if missing (its directory must exist). `:memory:` keeps it in RAM. */
  path: string;
  /** ms a writer waits for another process holding the file's lock. Default 5000. */
  busyTimeoutMs?: number;
}

export interface SqliteStore extends GatewayStore {
  /** Resolves once better-sqlite3 is loaded and the file is open; rejects with why it could not be. */
  readonly ready: Promise<void>;
}

/**
 * Budget and rate-limit counters in an SQLite file (better-sqlite3 12), so a single instance keeps its
 * spend across restarts without Redis. Breaker state and the cache stay in memory: losing them on restart
 * costs a few cold requests, not money.
 */
export function createSqliteStore(options: SqliteStoreOptions): SqliteStore {
  if (!options || typeof options.path !== 'string' || options.path === '') {
    throw new TypeError('llmux: createSqliteStore needs { path }: the database file');
  }
  const database: Promise<SqliteDatabase> = openDatabase(options.path, options.busyTimeoutMs ?? 5000);
  const memory = createMemoryStore();
  const ready = database.then(() => undefined);
  ready.catch(() => undefined);
  return {
    ...memory,
    ...sqliteLimits(database),
    kind: 'sqlite',
    ready,
    async close() {
      await memory.close();
      const db = await database.catch(() => undefined);
      db?.close();
    },
  };
}
