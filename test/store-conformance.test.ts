import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createMemoryStore, createSqliteStore, type GatewayStore } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { limitStoreConformance } from './helpers/store-conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'llmux-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const randomPrefix = () => `llmux-test:${process.pid}:${Math.random().toString(36).slice(2)}:`;

limitStoreConformance({
  name: 'memory',
  create: async () => createMemoryStore(),
  reopen: async (store) => store,
});

const files = new WeakMap<GatewayStore, string>();
let n = 0;
limitStoreConformance({
  name: 'sqlite',
  async create() {
    const path = join(dir, `store-${++n}.db`);
    const store = createSqliteStore({ path });
    await store.ready;
    files.set(store, path);
    return store;
  },
  async reopen(store) {
    const other = createSqliteStore({ path: files.get(store)! });
    await other.ready;
    return other;
  },
});

const prefixes = new WeakMap<GatewayStore, string>();
limitStoreConformance({
  name: 'redis',
  async create() {
    const prefix = randomPrefix();
    const store = createRedisStore({ prefix });
    await store.ready;
    prefixes.set(store, prefix);
    return store;
  },
  async reopen(store) {
    const other = createRedisStore({ prefix: prefixes.get(store)! });
    await other.ready;
    return other;
  },
});
