/** The part of a `better-sqlite3` Database this uses (passed in, so core never loads the native module itself). */
export interface SqliteDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): {
    run(...params: unknown[]): { changes: number | bigint };
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  };
}

export interface SqliteKeyvStoreOptions {
  /** Table holding the values; created when missing. Default `keyv`. */
  table?: string;
  /** Expired rows are deleted once every this many writes. Default 500. */
  purgeEvery?: number;
}

/**
 * A Keyv storage adapter over a `better-sqlite3` (12.x) database, for a cache that survives restarts
 * on one machine without a server: `new Keyv({ store: new SqliteKeyvStore(new Database('cache.db')) })`.
 * (`@keyv/sqlite` needs the `sqlite3` package, whose install downloads a prebuilt binary.) Values are
 * Keyv's serialized text; expired rows read as absent and are purged every `purgeEvery` writes. The
 * database belongs to the caller, who closes it.
 */
export class SqliteKeyvStore {
  readonly opts: { table: string; dialect: 'sqlite' };
  namespace?: string;
  private readonly sql: {
    get: ReturnType<SqliteDatabase['prepare']>;
    set: ReturnType<SqliteDatabase['prepare']>;
    del: ReturnType<SqliteDatabase['prepare']>;
    clear: ReturnType<SqliteDatabase['prepare']>;
    purge: ReturnType<SqliteDatabase['prepare']>;
  };
  private writes = 0;
  private readonly purgeEvery: number;

  constructor(db: SqliteDatabase, options: SqliteKeyvStoreOptions = {}) {
    const table = options.table ?? 'keyv';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new TypeError(`llmux: SqliteKeyvStore table "${table}" must be a plain identifier`);
    this.opts = { table, dialect: 'sqlite' };
    this.purgeEvery = options.purgeEvery ?? 500;
    db.exec(`CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires INTEGER)`);
    this.sql = {
      get: db.prepare(`SELECT value, expires FROM ${table} WHERE key = ?`),
      set: db.prepare(`INSERT INTO ${table} (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires`),
      del: db.prepare(`DELETE FROM ${table} WHERE key = ?`),
      clear: db.prepare(`DELETE FROM ${table} WHERE key LIKE ? ESCAPE '\\'`),
      purge: db.prepare(`DELETE FROM ${table} WHERE expires IS NOT NULL AND expires <= ?`),
    };
  }

  async get(key: string): Promise<string | undefined> {
    const row = this.sql.get.get(key) as { value: string; expires: number | null } | undefined;
    if (!row) return undefined;
    if (row.expires !== null && row.expires <= Date.now()) {
      this.sql.del.run(key);
      return undefined;
    }
    return row.value;
  }

  async getMany(keys: string[]): Promise<Array<string | undefined>> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    this.sql.set.run(key, text, typeof ttl === 'number' && ttl > 0 ? Date.now() + ttl : null);
    if (++this.writes % this.purgeEvery === 0) this.sql.purge.run(Date.now());
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return Number(this.sql.del.run(key).changes) > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /** Deletes this namespace's keys (Keyv prefixes keys with `<namespace>:`), or every key without a namespace. */
  async clear(): Promise<void> {
    const prefix = this.namespace ? `${this.namespace.replace(/[\\%_]/g, (c) => `\\${c}`)}:%` : '%';
    this.sql.clear.run(prefix);
  }

  async disconnect(): Promise<void> {
    // The database is the caller's to close.
  }

  /** Keyv subscribes to `error`; this adapter never emits (a failure rejects the call instead). */
  on(_event: string, _listener: (...args: unknown[]) => void): this {
    return this;
  }
}
