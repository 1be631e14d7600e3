/**
 * Review: memory that grows with client-controlled input in a long-running gateway process.
 * Every test sends many distinct client values (or one very long stream) and checks that what the
 * gateway keeps stays bounded. Heap and ArrayBuffer sizes are read after a forced GC (V8's `gc`,
 * enabled at runtime: vitest runs each file in its own forked process here).
 * Tests marked BUG fail because of a real bug; the others pass and pin down bounds that hold.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type GatewayResponse } from '@llmux/core';
import { bodyText, chatRequest, nextTurn, scrape } from './helpers/observe.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const MB = 1024 * 1024;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const arrayBuffers = () => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

const gateways: Gateway[] = [];
const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, env: {}, ...options });
  gateways.push(g);
  return g;
}

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

/**
 * Lets queued log records reach every sink. The mock provider answers without I/O, so a loop of
 * awaited requests never yields to the log queue's setImmediate: without this it would fill (1000
 * records, each holding its plan) and drop the rest, which is neither what a server sees nor the point.
 */
async function settleLogs(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

// ---------------------------------------------------------------------------------------------------
// A very long stream with caching on.
// ---------------------------------------------------------------------------------------------------

/**
 * An OpenAI-compatible upstream on 127.0.0.1 that streams `events` content chunks of `contentBytes`
 * each, honouring backpressure and writing one shared string again and again, so the upstream side
 * holds nothing per chunk: whatever the heap keeps while the stream runs is the gateway's.
 */
async function longStreamUpstream(events: number, contentBytes: number): Promise<string> {
  const head = { id: 'chatcmpl-long', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini' };
  const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const first = sse({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  const piece = sse({ ...head, choices: [{ index: 0, delta: { content: 'x'.repeat(contentBytes) }, finish_reason: null }] });
  const last =
    sse({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
    sse({ ...head, choices: [], usage: { prompt_tokens: 3, completion_tokens: events, total_tokens: events + 3 } }) +
    'data: [DONE]\n\n';
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res: ServerResponse) => {
    for await (const _ of req); // the request body
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(first);
    for (let i = 0; i < events; i++) {
      if (res.destroyed) return;
      if (!res.write(piece)) {
        await new Promise<void>((r) => {
          const done = () => (res.off('drain', done), res.off('close', done), r());
          res.on('drain', done).on('close', done);
        });
      }
    }
    res.end(last);
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({ server, sockets });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * Streams one long answer through the gateway and reads the heap (after GC) once ~2 MB and once
 * ~`measureAtMB` MB of it reached the client, while the stream is still running.
 */
async function heapGrowthDuringStream(g: Gateway, measureAtMB: number): Promise<{ grownMB: number; res: GatewayResponse; received: number }> {
  const res = await g.handle(chatRequest({ stream: true }));
  expect(res.status).toBe(200);
  const it = (res.body as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  let received = 0;
  let base: number | undefined;
  let grown = 0;
  for (;;) {
    const { value, done } = await it.next();
    if (done) break;
    received += typeof value === 'string' ? value.length : value.byteLength;
    if (base === undefined && received > 2 * MB) base = heapUsed();
    if (base !== undefined && received > measureAtMB * MB) {
      grown = heapUsed() - base;
      break;
    }
  }
  await it.return?.(undefined);
  return { grownMB: grown / MB, res, received };
}

describe('a very long stream', () => {
  // Control for the test below: the same 36 MB stream with the cache off keeps nothing per chunk,
  // so the heap measurement itself is sound.
  it('without the cache, a 36 MB stream relayed to the client does not accumulate in the heap', async () => {
    const url = await longStreamUpstream(4500, 8192);
    const g = gateway({ metrics: false, recentRequests: 0, config: { targets: [{ provider: 'openai', api_key: 'k', custom_host: `${url}/v1` }] } });
    const { grownMB, res, received } = await heapGrowthDuringStream(g, 30);
    expect(res.headers['x-llmux-cache']).toBe('DISABLED');
    expect(received).toBeGreaterThan(30 * MB);
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB while 30 MB streamed`).toBeLessThan(10);
  });

  // BUG: with caching on, every chunk of a stream is recorded for the cache with no cap, so a 36 MB answer is held whole in memory although maxEntryBytes (here 1 MiB) means it can never be stored.
  // Expected: the recorded copy stops (and is dropped) once it passes `cache.maxEntryBytes`: the entry
  // will be refused as `too_large` anyway, and DESIGN says streams are never buffered whole.
  // Actual: `pipeline/chat.ts` observeBatches pushes every ChunkOut into `recorded` while
  // `state.recordChunks` is set (cache-stage.ts `look` sets it on every stream miss); the size is only
  // checked in cache-stage.ts `save` after the stream ended. Concurrent long streams multiply it.
  it('with the cache on, a 36 MB stream is not held whole in memory for a cache entry capped at 1 MiB', async () => {
    const url = await longStreamUpstream(4500, 8192);
    const g = gateway({
      metrics: false,
      recentRequests: 0,
      cache: { maxEntryBytes: 1 * MB },
      config: { cache: { mode: 'simple' }, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${url}/v1` }] },
    });
    const { grownMB, res, received } = await heapGrowthDuringStream(g, 30);
    expect(res.headers['x-llmux-cache']).toBe('MISS');
    expect(received).toBeGreaterThan(30 * MB);
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB while 30 MB streamed (cache entry cap: 1 MiB)`).toBeLessThan(10);
  });
});

// ---------------------------------------------------------------------------------------------------
// The semantic index: one partition per conversation context, namespace or caller.
// ---------------------------------------------------------------------------------------------------

describe('semantic index', () => {
  // BUG: each semantic partition preallocates room for 8 vectors, so N distinct partitions (one per namespace, system prompt, user…) cost ~8x the memory maxVectors is documented to bound (≈ 60 MB for 10000 vectors of 1536 dims).
  // Expected: ~6 KB per stored 1536-dim vector, as `MemoryCacheOptions.maxVectors` documents
  // ("Default 10000 (≈ 60 MB at 1536 dims)") — the default bound at its worst is ~490 MB instead.
  // Actual: cache/vector-index.ts `Partition` constructor allocates `capacity = 8` rows
  // (`new Float32Array(8 * dims)`) for every partition, even one that will only ever hold one vector;
  // a client choosing distinct `x-llmux-cache-namespace` values (or system prompts) makes one each.
  it('1500 semantic entries in 1500 client-chosen namespaces cost about what 1500 vectors take', async () => {
    const dims = 1536;
    const g = gateway({
      metrics: false,
      recentRequests: 0,
      config: {
        cache: { mode: 'semantic', embedding: { provider: 'mock', model: 'mock-embedding', override_params: { dimensions: dims } } },
        targets: [{ provider: 'mock' }],
      },
    });
    // Warm up (code, the LSH planes are not involved: every partition stays tiny).
    for (let i = 0; i < 20; i++) await g.handle(chatRequest({}, { 'x-llmux-cache-namespace': `warm-${i}` }));
    const before = arrayBuffers();
    const n = 1500;
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: 50 }, (_, j) => g.handle(chatRequest({}, { 'x-llmux-cache-namespace': `tenant-${i + j}` })));
      for (const res of await Promise.all(batch)) expect(res.status).toBe(200);
    }
    const grown = arrayBuffers() - before;
    // The entries were stored: the same request in a namespace already seen is a hit.
    const again = await g.handle(chatRequest({}, { 'x-llmux-cache-namespace': 'tenant-7' }));
    expect(again.headers['x-llmux-cache']).toBe('HIT');
    const vectorBytes = n * dims * 4;
    expect(grown / MB, `index grew by ${(grown / MB).toFixed(1)} MB for ${(vectorBytes / MB).toFixed(1)} MB of vectors`).toBeLessThan((2 * vectorBytes) / MB);
  });
});

// ---------------------------------------------------------------------------------------------------
// Redaction: field names seen in records.
// ---------------------------------------------------------------------------------------------------

describe('log redaction', () => {
  // BUG: the module-level table of field names redaction has seen (`credentialNames`) bounds how many names it keeps (1000) but not their length, so long client-chosen key names are pinned for the life of the process.
  // Expected: a request's field names are garbage once its record is written; at most a small, bounded
  // amount is remembered (observability/label-guard.ts and upstream/client.ts `splitUrls` bound theirs by length).
  // Actual: observability/redact-record.ts `isCredentialField` stores every new name up to 1000 of
  // them, of any length, in a process-wide Map shared by every gateway and never cleared, even by
  // `close()`. With `logBodies` a body's keys (a JSON schema's property names, an unknown parameter)
  // reach it: 1000 requests with a 10 MiB key each (the default `maxBodyBytes`) pin ~10 GB.
  // Without `logBodies`, `x-llmux-metadata` keys (redacted in every record) do the same within the header size.
  // Checked: once the table holds 1000 short names, the same 40 requests grow the heap by ~2 MB only.
  it('40 requests whose bodies carry distinct 2 MB key names (logBodies on) do not pin ~80 MB', async () => {
    let logged = 0;
    const g = gateway({
      metrics: false,
      tracing: false,
      recentRequests: 0,
      logBodies: true,
      onLog: () => void logged++,
      config: { targets: [{ provider: 'mock' }] },
    });
    await g.handle(chatRequest());
    await settleLogs();
    const before = heapUsed();
    for (let i = 0; i < 40; i++) {
      const properties = { [`field_${i}_${'k'.repeat(2 * MB)}`]: { type: 'string' } };
      const res = await g.handle(
        chatRequest({ response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object', properties } } } }),
      );
      expect(res.status).toBe(200);
      await bodyText(res);
    }
    await settleLogs();
    const grownMB = (heapUsed() - before) / MB;
    expect(logged).toBe(41);
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB after the records were written`).toBeLessThan(20);
  });
});

// ---------------------------------------------------------------------------------------------------
// Bounds that hold (passing tests).
// ---------------------------------------------------------------------------------------------------

describe('bounds that hold', () => {
  it('3000 distinct model names keep the model label at maxLabelValues (+ other) and /metrics small', async () => {
    const g = gateway({ recentRequests: 0, metrics: { maxLabelValues: 50 }, config: { targets: [{ provider: 'mock' }] } });
    for (let i = 0; i < 3000; i++) {
      const res = await g.handle(chatRequest({ model: `client-model-${i}` }));
      expect(res.status).toBe(200);
      if (i % 200 === 0) await settleLogs();
    }
    await settleLogs();
    const text = await scrape(g);
    const models = new Set<string>();
    for (const m of text.matchAll(/^llmux_requests_total\{[^}]*model="([^"]*)"/gm)) models.add(m[1]!);
    expect(models.size).toBeLessThanOrEqual(51);
    expect(models.has('other')).toBe(true);
    expect(text.length).toBeLessThan(400_000);
  });

  it('an onLog sink that never finishes loses records (counted) instead of holding 3000 of them; the recent view stays at its capacity', async () => {
    const g = gateway({
      metrics: false,
      tracing: false,
      recentRequests: 20,
      onLog: () => new Promise(() => {}),
      config: { targets: [{ provider: 'mock' }] },
    });
    for (let i = 0; i < 3000; i++) {
      await g.handle(chatRequest({}, { 'x-llmux-trace-id': `trace-${i}`, 'x-llmux-metadata': JSON.stringify({ [`k${i}`]: `v${i}` }) }));
      if (i % 200 === 0) await settleLogs();
    }
    await settleLogs();
    const view = recentRequests(g);
    expect(view.capacity).toBe(20);
    expect(view.records.length).toBe(20);
    expect(view.records[0]!.trace_id).toBe('trace-2999');
    // 100 writes may stay pending (MAX_PENDING_WRITES); the rest are dropped and counted.
    expect(view.dropped.onLog).toBeGreaterThanOrEqual(2900);
  });

  it('1200 distinct client configs (allowRequestConfig) keep a bounded number of compiled plans', async () => {
    const g = gateway({ metrics: false, recentRequests: 0, allowRequestConfig: true, config: { targets: [{ provider: 'mock' }] } });
    // Each config carries ~12 KB, so keeping every compiled plan would show as ~25 MB.
    const pad = 'p'.repeat(12_000);
    const send = (i: number) =>
      g.handle(chatRequest({}, { 'x-portkey-config': JSON.stringify({ targets: [{ provider: 'mock', name: `t${i}`, override_params: { user: `${pad}${i}` } }] }) }));
    for (let i = 0; i < 550; i++) await send(-i - 1); // fill the plan cache
    await settleLogs();
    const before = heapUsed();
    for (let i = 0; i < 1200; i++) {
      expect((await send(i)).status).toBe(200);
      if (i % 100 === 0) await settleLogs();
    }
    await settleLogs();
    const grownMB = (heapUsed() - before) / MB;
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB`).toBeLessThan(8);
  });

  it('1200 distinct client Authorization keys (x-portkey-provider) keep a bounded number of compiled plans', async () => {
    const g = gateway({ metrics: false, recentRequests: 0, allowRequestConfig: true, config: { targets: [{ provider: 'mock' }] } });
    // ~8 KB per key, kept in the cache key and the compiled target: every plan kept would show as ~19 MB.
    const pad = 'a'.repeat(8000);
    const send = (i: number) => g.handle(chatRequest({}, { 'x-portkey-provider': 'mock', authorization: `Bearer sk-${pad}-${i}` }));
    for (let i = 0; i < 550; i++) await send(-i - 1);
    await settleLogs();
    const before = heapUsed();
    for (let i = 0; i < 1200; i++) {
      expect((await send(i)).status).toBe(200);
      if (i % 100 === 0) await settleLogs();
    }
    await settleLogs();
    const grownMB = (heapUsed() - before) / MB;
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB`).toBeLessThan(8);
  });

  it('1500 cache namespaces with the simple cache stay within the memory store bounds (maxEntries)', async () => {
    const { createMemoryStore } = await import('@llmux/core');
    const g = gateway({
      metrics: false,
      recentRequests: 0,
      store: createMemoryStore({ cache: { maxEntries: 100 } }),
      config: { cache: { mode: 'simple' }, targets: [{ provider: 'mock' }] },
    });
    // ~10 KB answers: keeping every entry would show as 15 MB or more.
    const ask = (ns: string) => g.handle(chatRequest({ mock_response: 'r'.repeat(10_000) }, { 'x-llmux-cache-namespace': ns }));
    for (let i = 0; i < 200; i++) await ask(`warm-${i}`);
    await settleLogs();
    const before = heapUsed();
    for (let i = 0; i < 1500; i++) {
      await ask(`ns-${i}`);
      if (i % 100 === 0) await settleLogs();
    }
    await settleLogs();
    const grownMB = (heapUsed() - before) / MB;
    // The oldest namespaces were evicted, the newest kept.
    expect((await ask('ns-0')).headers['x-llmux-cache']).toBe('MISS');
    expect((await ask('ns-1499')).headers['x-llmux-cache']).toBe('HIT');
    expect(grownMB, `heap grew by ${grownMB.toFixed(1)} MB`).toBeLessThan(5);
  });
});
