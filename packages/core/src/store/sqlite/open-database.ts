/**
 * The slice of better-sqlite3's API the file store uses. Typed here so `@llmux/core` needs neither the
 * package nor its types unless `createSqliteStore` is called.
 */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): Record<string, unknown> | undefined;
  all(...params: unknown[]): Array<Record<string, unknown>>;
  iterate(...params: unknown[]): IterableIterator<Record<string, unknown>>;
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(sql: string): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) & { immediate(...args: A): R };
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS llmux_limit_counters (
  key TEXT PRIMARY KEY, spent INTEGER NOT NULL, expire_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS llmux_limit_reservations (
  key TEXT NOT NULL, id TEXT NOT NULL, amount INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS llmux_limit_reservations_expiry ON llmux_limit_reservations (expires_at);
CREATE TABLE IF NOT EXISTS llmux_limit_windows (
  key TEXT NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, amount INTEGER NOT NULL, expire_at INTEGER NOT NULL, PRIMARY KEY (key, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS llmux_limit_windows_ts ON llmux_limit_windows (key, ts);
CREATE INDEX IF NOT EXISTS llmux_limit_windows_expiry ON llmux_limit_windows (expire_at);
`;

/**
 * Loads better-sqlite3 on first use — users of the memory or Redis store never need it — and opens the
 * file in WAL mode, so several processes may share it and readers never block the writer.
 */
export async function openDatabase(path: string, busyTimeoutMs: number): Promise<SqliteDatabase> {
  // A variable specifier keeps bundlers from resolving the optional package at build time.
  const specifier = 'better-sqlite3';
  let Database: new (file: string, options?: { timeout?: number }) => SqliteDatabase;
  try {
    const mod = await import(specifier);
    Database = mod.default ?? mod;
  } catch (e) {
    throw new Error('llmux: createSqliteStore needs the better-sqlite3 package (npm i better-sqlite3@12)', { cause: e });
  }
  const db = new Database(path, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  // WAL with NORMAL sync survives a process crash; only a power loss can drop the last transactions.
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  return db;
}
