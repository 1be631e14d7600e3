import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Keyv from 'keyv';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteKeyvStore } from '../../src/cache/sqlite-keyv-store.js';
import { isKeyv } from '../../src/cache/keyv-cache-store.js';

const dir = mkdtempSync(join(tmpdir(), 'llmux-keyv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SqliteKeyvStore under Keyv', () => {
  it('stores, expires, deletes and clears, per namespace', async () => {
    const db = new Database(':memory:');
    const a = new Keyv({ store: new SqliteKeyvStore(db), namespace: 'a' });
    const b = new Keyv({ store: new SqliteKeyvStore(db), namespace: 'b' });
    await a.set('k', { nested: [1, 2] });
    await b.set('k', 'other');
    expect(await a.get('k')).toEqual({ nested: [1, 2] });
    expect(await b.get('k')).toBe('other');
    await a.set('short', 'x', 30);
    await sleep(60);
    expect(await a.get('short')).toBeUndefined();
    expect(await a.delete('k')).toBe(true);
    expect(await a.get('k')).toBeUndefined();
    await b.set('k2', 'y');
    await b.clear();
    expect(await b.get('k')).toBeUndefined();
    db.close();
  });

  it('keeps values in the file across reopening', async () => {
    const file = join(dir, 'persist.db');
    const first = new Database(file);
    await new Keyv({ store: new SqliteKeyvStore(first, { table: 'cache' }) }).set('k', 'kept', 60_000);
    first.close();
    const second = new Database(file);
    expect(await new Keyv({ store: new SqliteKeyvStore(second, { table: 'cache' }) }).get('k')).toBe('kept');
    second.close();
  });

  it('purges expired rows as it writes', async () => {
    const db = new Database(':memory:');
    const store = new SqliteKeyvStore(db, { purgeEvery: 2 });
    await store.set('old', 'x', 1);
    await sleep(5);
    await store.set('new', 'y');
    expect((db.prepare('SELECT count(*) AS n FROM keyv').get() as { n: number }).n).toBe(1);
    db.close();
  });

  it('refuses a table name that is not an identifier', () => {
    expect(() => new SqliteKeyvStore(new Database(':memory:'), { table: 'x; DROP TABLE y' })).toThrow(/identifier/);
  });

  it('is recognised as a Keyv by its shape', () => {
    expect(isKeyv(new Keyv())).toBe(true);
    expect(isKeyv({ get() {}, set() {} })).toBe(false);
  });
});
