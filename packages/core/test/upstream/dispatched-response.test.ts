import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamClient, readText } from '../../src/upstream/client.js';
import { AbortLink } from '../../src/upstream/abort-link.js';

/** The upstream side: what each request saw (closed early or not, which socket carried it). */
interface Seen {
  closed: boolean;
  written: number;
  socket: unknown;
}

let server: Server | undefined;
let client: UpstreamClient | undefined;
const seen: Seen[] = [];

async function upstream(handler: (req: IncomingMessage, res: ServerResponse, s: Seen) => void): Promise<string> {
  server = createServer((req, res) => {
    const s: Seen = { closed: false, written: 0, socket: req.socket };
    seen.push(s);
    res.on('close', () => (s.closed = !res.writableFinished));
    req.resume();
    req.on('end', () => handler(req, res, s));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const call = (url: string, signal = new AbortLink()) => {
  client ??= new UpstreamClient();
  return client.send({ url, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }, signal);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (check: () => boolean, ms = 2000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(10);
  return check();
};

/** Writes `total` bytes in 64 KiB pieces, waiting for 'drain' as a well-behaved server does. */
function writeHonouringBackpressure(res: ServerResponse, s: Seen, total: number) {
  const piece = Buffer.alloc(64 * 1024, 'x');
  const more = () => {
    while (s.written < total && !res.destroyed) {
      s.written += piece.length;
      if (!res.write(piece)) return void res.once('drain', more);
    }
    if (!res.destroyed) res.end();
  };
  more();
}

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  const s = server;
  server = undefined;
  if (s) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  seen.length = 0;
});

describe('UpstreamClient over undici dispatch', () => {
  it('reads a body sent in several pieces whole, with status and headers', async () => {
    const url = await upstream((_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-thing': 'a' });
      res.write('{"a":');
      setTimeout(() => res.end('"é"}'), 20);
    });
    const res = await call(url);
    expect(res.status).toBe(201);
    expect(res.headers['x-thing']).toBe('a');
    expect(JSON.parse(await readText(res.body))).toEqual({ a: 'é' });
  });

  it('hands each piece of a stream over as it arrives, before the upstream has finished', async () => {
    let finish!: () => void;
    const url = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      finish = () => res.end('data: two\n\n');
    });
    const res = await call(url);
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    expect(Buffer.from(first.value!).toString()).toBe('data: one\n\n');
    finish();
    const rest: string[] = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(Buffer.from(r.value).toString());
    expect(rest.join('')).toBe('data: two\n\n');
  });

  it('a reader that stops early closes the upstream call', async () => {
    const url = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
    });
    const res = await call(url);
    for await (const _ of res.body) break;
    expect(await until(() => seen[0]!.closed)).toBe(true);
  });

  it('the signal aborts a call still waiting for its headers, and one mid-body', async () => {
    const url = await upstream((req, res) => {
      if (req.url === '/mid') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
      }
      // otherwise: never answers
    });
    const before = new AbortLink();
    const pending = call(url, before);
    await until(() => seen.length === 1);
    before.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    expect(await until(() => seen[0]!.closed || (seen[0]!.socket as { destroyed: boolean }).destroyed)).toBe(true);

    const mid = new AbortLink();
    const res = await call(`${url}/mid`, mid);
    const it = res.body[Symbol.asyncIterator]();
    await it.next();
    const next = it.next();
    mid.abort(new Error('client left mid-stream'));
    await expect(next).rejects.toThrow('client left mid-stream');
    expect(await until(() => seen[1]!.closed)).toBe(true);
  });

  it('an already aborted signal sends nothing', async () => {
    const url = await upstream((_req, res) => res.end('{}'));
    const signal = new AbortLink();
    signal.abort(new Error('gone already'));
    await expect(call(url, signal)).rejects.toThrow('gone already');
    await sleep(50);
    expect(seen).toHaveLength(0);
  });

  it('a body past the read limit is refused and its upstream call closed', async () => {
    const url = await upstream((_req, res, s) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      writeHonouringBackpressure(res, s, 256 * 1024 * 1024);
    });
    const res = await call(url);
    await expect(readText(res.body, 1024 * 1024)).rejects.toThrow('upstream body exceeds 1048576 bytes');
    expect(await until(() => seen[0]!.closed)).toBe(true);
    expect(seen[0]!.written).toBeLessThan(128 * 1024 * 1024);
  });

  it('a reader slower than the upstream holds it back, then gets every byte', async () => {
    const total = 200 * 1024 * 1024;
    const url = await upstream((_req, res, s) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      writeHonouringBackpressure(res, s, total);
    });
    const res = await call(url);
    await sleep(1000);
    // Kernel socket buffers take a few MB on loopback; an unpaused socket would have taken all 200.
    expect(seen[0]!.written).toBeLessThan(64 * 1024 * 1024);
    let got = 0;
    for await (const chunk of res.body) got += chunk.byteLength;
    expect(got).toBe(total);
  });

  it('dump() releases a small body and keeps the connection for the next call', async () => {
    const url = await upstream((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.write('{"error":');
      setTimeout(() => res.end(JSON.stringify({ message: 'x'.repeat(10_000) }) + '}'), 30);
    });
    const first = await call(url);
    await first.dump();
    expect(seen[0]!.closed).toBe(false);
    await sleep(10);
    const second = await call(url);
    await second.dump();
    expect(seen).toHaveLength(2);
    expect(seen[1]!.socket).toBe(seen[0]!.socket);
  });

  it('skips informational 1xx answers', async () => {
    const url = await upstream((_req, res) => {
      res.writeEarlyHints({ link: '</x>; rel=preload' });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const res = await call(url);
    expect(res.status).toBe(200);
    expect(await readText(res.body)).toBe('{"ok":true}');
  });

  it('an unreachable upstream rejects the call', async () => {
    const url = await upstream(() => {});
    await new Promise((r) => server!.close(r));
    server = undefined;
    await expect(call(url)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('one reader per body', () => {
  it('a second whole-body read is refused instead of leaving the first unsettled; two dumps share one release', async () => {
    let finish!: () => void;
    const url = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"a":');
      finish = () => res.end('1}');
    });
    const res = await call(url);
    const first = readText(res.body);
    await expect(readText(res.body)).rejects.toThrow('already being read');
    finish();
    expect(await first).toBe('{"a":1}');

    const second = await call(url);
    const dumps = [second.dump(), second.dump()];
    finish();
    await expect(Promise.all(dumps)).resolves.toEqual([undefined, undefined]);
  });
});
