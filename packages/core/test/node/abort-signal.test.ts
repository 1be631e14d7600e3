import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { abortLinkFor, abortSignalFor, markAnswering } from '../../src/node/index.js';
import type { AbortLink } from '../../src/upstream/abort-link.js';

/**
 * A real server whose handler takes what `setup` returns from the response, answers the head and one
 * body chunk, and finishes only when told to, so a client can leave while the response is open.
 */
let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

function serve<T>(setup: (res: ServerResponse) => T) {
  let made!: (value: { taken: T; res: ServerResponse }) => void;
  const handled = new Promise<{ taken: T; res: ServerResponse }>((resolve) => (made = resolve));
  server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    const taken = setup(res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial ');
    made({ taken, res });
  });
  return new Promise<{ handled: typeof handled; url: string }>((resolve) =>
    server!.listen(0, '127.0.0.1', () => resolve({ handled, url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/` })),
  );
}

/** Sends a request and resolves once the first body byte arrived, with a way to hang up. */
function open(url: string) {
  return new Promise<{ hangUp: () => void; rest: Promise<string> }>((resolve, reject) => {
    const req = request(url, (res) => {
      let text = '';
      const rest = new Promise<string>((done) => {
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => done(text));
        res.on('error', () => done(text));
        res.on('close', () => done(text));
      });
      res.once('data', () => resolve({ hangUp: () => req.destroy(), rest }));
    });
    // After the head arrived, an error (the hang-up itself) settles nothing more.
    req.on('error', reject);
    req.end();
  });
}

const closed = (res: ServerResponse) => new Promise<void>((resolve) => (res.destroyed ? resolve() : res.once('close', () => resolve())));

/** A response made with `setup` and a client reading it: what `setup` returned, the response, the client. */
async function opened<T>(setup: (res: ServerResponse) => T) {
  const { handled, url } = await serve(setup);
  const client = await open(url);
  const { taken, res } = await handled;
  return { taken, res, client };
}

describe('abortLinkFor', () => {
  it('aborts, marked as the client leaving, when the client hangs up before the response finished', async () => {
    const { taken: link, res, client } = await opened((res) => abortLinkFor(res));
    expect(link.aborted).toBe(false);
    let heard = 0;
    link.addEventListener('abort', () => heard++);
    client.hangUp();
    await closed(res);
    expect(link.aborted).toBe(true);
    expect(link.clientClosed).toBe(true);
    expect(String(link.reason)).toContain('client closed the connection');
    expect(heard).toBe(1);
  });

  it('stays quiet when the response finished normally', async () => {
    const { taken: link, res, client } = await opened((res) => abortLinkFor(res));
    res.end('done');
    expect(await client.rest).toBe('partial done');
    await closed(res);
    expect(link.aborted).toBe(false);
    expect(link.clientClosed).toBe(false);
  });

  it('gives a second link on the same response (two gateways on one request) its own abort', async () => {
    const { taken: links, res, client } = await opened((res): [AbortLink, AbortLink] => [abortLinkFor(res), abortLinkFor(res)]);
    expect(links[0]).not.toBe(links[1]);
    client.hangUp();
    await closed(res);
    expect(links.map((l) => [l.aborted, l.clientClosed])).toEqual([
      [true, true],
      [true, true],
    ]);
  });
});

describe('abortLinkFor with untilAnswered', () => {
  it('aborts when the host ends the response before the gateway answered (a timeout middleware)', async () => {
    const { taken: link, res, client } = await opened((res) => abortLinkFor(res, { untilAnswered: true }));
    res.end(' host timeout');
    expect(await client.rest).toBe('partial  host timeout');
    await closed(res);
    expect(link.aborted).toBe(true);
  });

  it("stays quiet when the gateway's writer marked the link before ending the response", async () => {
    const { taken: link, res, client } = await opened((res) => abortLinkFor(res, { untilAnswered: true }));
    markAnswering(link);
    res.end('done');
    expect(await client.rest).toBe('partial done');
    await closed(res);
    expect(link.aborted).toBe(false);
  });

  it('aborts at once when made for a response whose client already left', async () => {
    const { res, client } = await opened(() => undefined);
    client.hangUp();
    await closed(res);
    const link = abortLinkFor(res, { untilAnswered: true });
    expect(link.aborted).toBe(true);
    expect(link.clientClosed).toBe(true);
  });

  it('adds no property to the response (Express gives each response a hidden class of its own, so each added property costs a new one)', async () => {
    const { taken: added, res, client } = await opened((res) => {
      const before = Reflect.ownKeys(res).length;
      const link = abortLinkFor(res, { untilAnswered: true });
      markAnswering(link);
      return Reflect.ownKeys(res).length - before;
    });
    expect(added).toBe(0);
    res.end();
    await client.rest;
  });
});

describe('abortSignalFor', () => {
  it('is a real AbortSignal that aborts when the client leaves, and only then', async () => {
    const { taken: signal, res, client } = await opened((res) => abortSignalFor(res));
    expect(signal).toBeInstanceOf(AbortSignal);
    // Marked as living exactly as long as its request, so the router may link to it directly.
    expect((signal as unknown as Record<symbol, unknown>)[Symbol.for('llmux.request-scoped-signal')]).toBe(true);
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    client.hangUp();
    await aborted;
    expect(signal.aborted).toBe(true);
    expect(String(signal.reason)).toContain('client closed the connection');
    await closed(res);
  });

  it('is aborted at once when made for a response whose client already left', async () => {
    const { res, client } = await opened(() => undefined);
    client.hangUp();
    await closed(res);
    const signal = abortSignalFor(res);
    expect(signal.aborted).toBe(true);
    expect(String(signal.reason)).toContain('client closed the connection');
  });

  it('does not abort once the response finished', async () => {
    const { taken: signal, res, client } = await opened((res) => abortSignalFor(res));
    res.end('done');
    await client.rest;
    await closed(res);
    expect(signal.aborted).toBe(false);
  });
});
