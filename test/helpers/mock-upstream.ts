import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the mock sends back for one request. */
export interface MockReply {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body. */
  json?: unknown;
  /** A raw body (text or bytes), sent in one write unless `chunks` is given. */
  body?: string | Uint8Array;
  /** Raw pieces written one by one (SSE events, event-stream frames). */
  chunks?: Array<string | Uint8Array>;
  /** Pause between chunks, ms. */
  chunkDelayMs?: number;
  /** Pause before the status line, ms. */
  delayMs?: number;
  /** Answer only once this settles: a test holds the reply while it looks at what is in flight. */
  until?: Promise<unknown>;
  /** Destroy the socket after this many chunks (a connection cut mid-stream). */
  cutAfter?: number;
  /** Send this many chunks, then nothing more, keeping the connection open (a stalled upstream). */
  stallAfter?: number;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Destroy the socket without any answer (ECONNRESET). */
  reset?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  text: string;
  json: any;
}

type Responder = MockReply | ((req: RecordedRequest) => MockReply);

/**
 * A scriptable upstream on 127.0.0.1: replays recorded provider bodies and injects faults.
 * `enqueue` answers the next matching request once; `route` answers every one after the queue.
 */
export class MockUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Requests whose connection closed before the mock finished answering (the gateway aborted). */
  aborted = 0;
  private readonly queues = new Map<string, Responder[]>();
  private readonly routes = new Map<string, Responder>();
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.answer(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Matches on the path without query; `*` matches any path. */
  enqueue(path: string, ...replies: Responder[]): this {
    const q = this.queues.get(path) ?? [];
    q.push(...replies);
    this.queues.set(path, q);
    return this;
  }

  route(path: string, reply: Responder): this {
    this.routes.set(path, reply);
    return this;
  }

  /**
   * Routes `reply` held at the mock: `arrived` resolves once a request reached it (the gateway has
   * admitted and sent it), and nothing is answered until `release()` — so a test can look at a request
   * in flight, or break something under it, however slow the machine.
   */
  hold(path: string, reply: MockReply): { arrived: Promise<void>; release: () => void } {
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.route(path, () => {
      arrive();
      return { ...reply, until: released };
    });
    return { arrived, release };
  }

  reset(): void {
    this.requests.length = 0;
    this.queues.clear();
    this.routes.clear();
    this.aborted = 0;
  }

  private pick(path: string): Responder | undefined {
    for (const key of [path, '*']) {
      const q = this.queues.get(key);
      if (q?.length) return q.shift();
    }
    return this.routes.get(path) ?? this.routes.get('*');
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const c of req) text += c;
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, text, json };
    this.requests.push(recorded);
    const responder = this.pick(path);
    if (!responder) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `mock: no reply for ${path}` } }));
      return;
    }
    const reply = typeof responder === 'function' ? responder(recorded) : responder;
    let finished = false;
    res.on('close', () => {
      if (!finished) this.aborted++;
    });
    if (reply.reset) return void req.socket.destroy();
    if (reply.hang) return;
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.until) await reply.until.catch(() => undefined);
    if (res.destroyed) return;
    const headers: Record<string, string> = { ...reply.headers };
    if (reply.json !== undefined) headers['content-type'] ??= 'application/json';
    if (reply.chunks) headers['content-type'] ??= 'text/event-stream';
    res.writeHead(reply.status ?? 200, headers);
    if (reply.chunks) {
      res.flushHeaders();
      let n = 0;
      for (const chunk of reply.chunks) {
        if (reply.cutAfter !== undefined && n >= reply.cutAfter) return void req.socket.destroy();
        if (reply.stallAfter !== undefined && n >= reply.stallAfter) return;
        if (res.destroyed) return;
        res.write(chunk);
        n++;
        if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
      }
      if (reply.cutAfter !== undefined && n >= reply.cutAfter) return void req.socket.destroy();
      finished = true;
      res.end();
      return;
    }
    finished = true;
    res.end(reply.json !== undefined ? JSON.stringify(reply.json) : reply.body ?? '');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startMockUpstream(): Promise<MockUpstream> {
  return new MockUpstream().start();
}

/** Wraps JSON lines (`*.chunks.jsonl`) as SSE the way the provider sends them. */
export function sseFromJsonl(text: string, opts: { done?: boolean; eventFromType?: boolean } = {}): string[] {
  const lines = text.split('\n').filter((l) => l.trim());
  const events = lines.map((line) => {
    const type = opts.eventFromType ? (JSON.parse(line) as { type?: string }).type : undefined;
    return `${type ? `event: ${type}\n` : ''}data: ${line}\n\n`;
  });
  if (opts.done) events.push('data: [DONE]\n\n');
  return events;
}
