import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamClient, readText } from '../../src/upstream/client.js';
import { AbortLink } from '../../src/upstream/abort-link.js';
import type { UpstreamResponse } from '../../src/providers/types.js';

let server: Server | undefined;
let netServer: NetServer | undefined;
let client: UpstreamClient | undefined;
const sockets = new Set<Socket>();

async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A raw TCP upstream: `onRequest` gets the socket and the request line once a request's head arrived. */
async function rawUpstream(onRequest: (socket: Socket, line: string) => void): Promise<string> {
  netServer = createNetServer((socket) => {
    sockets.add(socket);
    let head = '';
    socket.on('data', (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        const line = head.slice(0, head.indexOf('\r\n'));
        head = '';
        onRequest(socket, line);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => netServer!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(netServer.address() as AddressInfo).port}`;
}

const call = (url: string, signal = new AbortLink(), method = 'GET', extra: Record<string, string> = {}) => {
  client ??= new UpstreamClient();
  return client.send({ url, method, headers: { ...extra } }, signal);
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** 'pending' when `p` has not settled within `ms`. */
const within = <T>(p: Promise<T>, ms = 1000): Promise<{ value: T } | { error: unknown } | 'pending'> =>
  Promise.race([p.then((value) => ({ value }), (error: unknown) => ({ error })), sleep(ms).then(() => 'pending' as const)]);
/** Abort listeners a link holds (its private list; a rename must fail here, not read as none). */
const listeners = (link: AbortLink) => {
  expect(link).toHaveProperty('listeners');
  return ((link as unknown as { listeners?: unknown[] }).listeners ?? []).length;
};

afterEach(async () => {
  await client?.destroy();
  client = undefined;
  for (const s of sockets) s.destroy();
  sockets.clear();
  const s = server;
  server = undefined;
  if (s) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  const n = netServer;
  netServer = undefined;
  if (n) await new Promise((r) => n.close(r));
});

describe('DispatchedResponse, adversarial', () => {
  it('readAll on a body already paused for backpressure still reads it to its end', async () => {
    const total = 1024 * 1024;
    const url = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(total) });
      res.end(Buffer.alloc(total, 'x'));
    });
    // Right away (as call.ts does), and after a pause: both times more than 64 KiB is queued by then.
    for (const wait of [0, 100]) {
      const res = await call(url);
      await sleep(wait);
      const text = await within(readText(res.body), 3000);
      expect(text === 'pending' ? 'pending' : 'value' in text ? text.value.length : text.error).toBe(total);
    }
  });

  it('a call queued behind a busy socket and aborted there rejects at once, not when a socket frees', async () => {
    const url = await upstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      if (req.url === '/short') res.end();
      // '/' never ends
    });
    client = new UpstreamClient({ connections: 1 });
    const busy = await call(url);
    const link = new AbortLink();
    const queued = call(`${url}/short`, link);
    await sleep(50);
    // The queued call listens to its link (an aborted link drops all its listeners, so "none left
    // after the abort" would say nothing).
    expect(listeners(link)).toBe(1);
    link.abort(new Error('client left while queued'));
    const outcome = await within(queued, 1000);
    expect(outcome).toEqual({ error: new Error('client left while queued') });
    // The socket freed, the aborted call is dropped there and the pool serves the next one.
    await busy.body[Symbol.asyncIterator]().return!();
    expect(await readText((await call(`${url}/short`)).body)).toBe('data: one\n\n');
  });

  it('two next() calls waiting at once both settle', async () => {
    let finish!: () => void;
    const url = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      finish = () => {
        res.write('a');
        setTimeout(() => res.end('b'), 30);
      };
    });
    const res = await call(url);
    const it = res.body[Symbol.asyncIterator]();
    const first = it.next();
    const second = it.next();
    finish();
    const text = async (p: Promise<IteratorResult<Uint8Array>>) => {
      const r = await within(p, 2000);
      return r === 'pending' ? r : 'value' in r ? (r.value.done ? 'done' : Buffer.from(r.value.value).toString()) : r.error;
    };
    expect([await text(first), await text(second), await text(it.next())]).toEqual(['a', 'b', 'done']);
  });

  it('a queue of many tiny chunks, read late, comes out whole and in order (indexed reads, compaction)', async () => {
    const total = 256 * 1024;
    const letter = (i: number) => String.fromCharCode(97 + (i % 26));
    const url = await rawUpstream((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      let body = '';
      for (let i = 0; i < total; i++) body += `1\r\n${letter(i)}\r\n`;
      socket.end(body + '0\r\n\r\n');
    });
    const res = await call(url);
    // The reader comes late: 64 KiB of one-byte chunks are queued, then read past the compaction point.
    await sleep(200);
    const parts: string[] = [];
    for await (const chunk of res.body) parts.push(Buffer.from(chunk).toString());
    const text = parts.join('');
    expect(text.length).toBe(total);
    let expected = '';
    for (let i = 0; i < total; i++) expected += letter(i);
    expect(text === expected).toBe(true);
  });

  it('leaves no abort listener behind on a shared link, however each call ends', async () => {
    const url = await upstream((req, res) => {
      if (req.url === '/hang') return void res.writeHead(200).write('x');
      if (req.url === '/big') return void res.writeHead(200).end(Buffer.alloc(512 * 1024));
      if (req.url === '/reset') {
        res.writeHead(200, { 'content-length': '100' }).write('x');
        return void setTimeout(() => req.socket.destroy(), 20);
      }
      res.writeHead(req.url === '/err' ? 500 : 200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const link = new AbortLink();
    for (let i = 0; i < 3; i++) {
      await readText((await call(url, link)).body);
      await (await call(`${url}/err`, link)).dump();
      await (await call(`${url}/big`, link)).dump();
      await readText((await call(`${url}/big`, link)).body, 1000).catch(() => {});
      const early = await call(`${url}/hang`, link);
      for await (const _ of early.body) break;
      await readText((await call(`${url}/reset`, link)).body).catch(() => {});
      await call(`${url}/nope`, link, 'GET', { bad: 'a\r\nb' }).catch(() => {});
    }
    expect(listeners(link)).toBe(0);
  });

  it('204 and 304 answers end at once and keep the connection; HEAD ends at once', async () => {
    const seen: unknown[] = [];
    const url = await upstream((req, res) => {
      seen.push(req.socket);
      if (req.url === '/204') return void res.writeHead(204).end();
      if (req.url === '/304') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end(req.method === 'HEAD' ? undefined : '{"ok":true}');
    });
    expect(await within(readText((await call(`${url}/204`)).body))).toEqual({ value: '' });
    await sleep(5);
    expect(await within((await call(`${url}/304`)).dump())).toEqual({ value: undefined });
    await sleep(5);
    expect(await within(readText((await call(url)).body))).toEqual({ value: '{"ok":true}' });
    expect(new Set(seen).size).toBe(1);
    // undici itself closes the socket after a HEAD unless the answer says keep-alive: not checked.
    expect(await within(readText((await call(url, undefined, 'HEAD')).body))).toEqual({ value: '' });
  });

  it('reads chunked trailers and a body dripped a byte at a time', async () => {
    const url = await rawUpstream((socket) => {
      let out = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-t\r\n\r\n';
      for (let i = 0; i < 50; i++) out += '1\r\na\r\n';
      out += '0\r\nx-t: done\r\n\r\n';
      const bytes = Buffer.from(out, 'latin1');
      let at = 0;
      const drip = () => {
        if (at >= bytes.length) return;
        socket.write(bytes.subarray(at, ++at));
        setImmediate(drip);
      };
      drip();
    });
    let got = '';
    for await (const chunk of (await call(url)).body) got += Buffer.from(chunk).toString();
    expect(got).toBe('a'.repeat(50));
  });

  it('an upstream that resets mid-body or closes right after its headers fails the reader, never hangs', async () => {
    const url = await rawUpstream((socket, line) => {
      if (line.includes('/reset')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc');
        setTimeout(() => socket.resetAndDestroy(), 30);
      } else socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
    });
    const it = (await call(`${url}/reset`)).body[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value!).toString()).toBe('abc');
    expect('error' in ((await within(it.next(), 2000)) as object)).toBe(true);
    expect('error' in ((await within(readText((await call(`${url}/closed`)).body), 2000)) as object)).toBe(true);
  });

  it('readAll after part of the body was iterated gets the rest', async () => {
    const url = await upstream((_req, res) => {
      res.writeHead(200);
      res.write('first');
      setTimeout(() => res.end('second'), 30);
    });
    const res = await call(url);
    const it = res.body[Symbol.asyncIterator]();
    expect(Buffer.from((await it.next()).value!).toString()).toBe('first');
    expect(await readText(res.body)).toBe('second');
  });

  it('dump() on a large body gives up past 128 KiB and closes the call, without hanging', async () => {
    let closed = false;
    const url = await upstream((_req, res) => {
      res.on('close', () => (closed = !res.writableFinished));
      res.writeHead(500);
      const piece = Buffer.alloc(64 * 1024);
      let sent = 0;
      const more = () => {
        while (sent < 64 * 1024 * 1024 && !res.destroyed) {
          sent += piece.length;
          if (!res.write(piece)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    const res = await call(url);
    await sleep(100);
    expect(await within(res.dump(), 2000)).toEqual({ value: undefined });
    for (let i = 0; i < 100 && !closed; i++) await sleep(10);
    expect(closed).toBe(true);
  });

  it('destroying the client fails calls in flight, queued or mid-body, and refuses new ones', async () => {
    const url = await upstream((req, res) => {
      if (req.url === '/mid') return void res.writeHead(200).write('x');
      // '/' never answers
    });
    client = new UpstreamClient({ connections: 1 });
    const mid = await call(`${url}/mid`);
    const it = mid.body[Symbol.asyncIterator]();
    await it.next();
    const queued = within(call(url));
    const next = within(it.next());
    await client.destroy();
    expect('error' in ((await queued) as object)).toBe(true);
    expect('error' in ((await next) as object)).toBe(true);
    expect('error' in ((await within(call(url))) as object)).toBe(true);
  });

  it('an invalid URL, header, method or body rejects the promise; send() never throws', async () => {
    const url = await upstream((_req, res) => res.end('{}'));
    client = new UpstreamClient();
    const link = new AbortLink();
    const attempts: Array<() => Promise<UpstreamResponse>> = [
      () => client!.send({ url: 'not a url', method: 'GET', headers: {} }, link),
      () => client!.send({ url: 'file:///etc/passwd', method: 'GET', headers: {} }, link),
      () => client!.send({ url, method: 'GET', headers: { 'x-bad': 'a\nb' } }, link),
      () => client!.send({ url, method: 'GET', headers: { 'bad name': 'a' } }, link),
      () => client!.send({ url, method: 'G T', headers: {} }, link),
      () => client!.send({ url, method: 'POST', headers: {}, body: {} as unknown as string }, link),
    ];
    for (const attempt of attempts) {
      let p: Promise<UpstreamResponse> | undefined;
      expect(() => (p = attempt())).not.toThrow();
      expect('error' in ((await within(p!)) as object)).toBe(true);
    }
    expect(listeners(link)).toBe(0);
  });

  it('an upstream answering something other than HTTP rejects the call', async () => {
    const url = await rawUpstream((socket) => socket.end('NOT HTTP\r\n\r\n'));
    expect('error' in ((await within(call(url), 2000)) as object)).toBe(true);
  });

  it('keeps the connection after a body read whole, dumped, or iterated to its end', async () => {
    const seen: unknown[] = [];
    const url = await upstream((req, res) => {
      seen.push(req.socket);
      res.writeHead(200).end('hello');
    });
    await readText((await call(url)).body);
    await sleep(5);
    await (await call(url)).dump();
    await sleep(5);
    for await (const _ of (await call(url)).body);
    await sleep(5);
    await readText((await call(url)).body);
    expect(new Set(seen).size).toBe(1);
  });
});
