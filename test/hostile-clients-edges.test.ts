import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream, sleep } from './helpers/mock-upstream.js';
import { completion } from './helpers/observe.js';

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());

/** Sends an endless body after the head; counts bytes the server took (socket flushed) until the socket closes or `ms` pass. */
function flood(url: string, head: string, chunked: boolean, ms: number) {
  return new Promise<{ sent: number; status: string; closedBy: string; connectionHeader: string }>((resolve) => {
    const u = new URL(url);
    const s = connect({ host: '127.0.0.1', port: Number(u.port) });
    let sent = 0;
    let text = '';
    let closedBy = 'timeout';
    let done = false;
    s.on('error', () => {});
    s.setEncoding('utf8');
    s.on('data', (c) => (text += c));
    s.on('close', () => { if (closedBy === 'timeout') closedBy = 'server'; finish(); });
    s.on('end', () => { closedBy = 'server-fin'; });
    const piece = Buffer.alloc(64 * 1024, 'x');
    const chunk = chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
    s.write(`POST ${u.pathname} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${head}\r\n{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`);
    const pump = () => {
      while (!done && !s.destroyed) {
        sent += piece.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    pump();
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ sent: sent / 1e6, status: text.split('\r\n')[0] ?? '', closedBy, connectionHeader: /\r\nconnection: ([^\r]*)/i.exec(text)?.[1] ?? '' });
      s.destroy();
    };
    setTimeout(finish, ms);
  });
}

describe.each(['express5', 'koa3', 'nestjs'])('%s flood probe', (name) => {
  for (const chunked of [true, false]) {
    it(`chunked=${chunked}`, async () => {
      up.route('/ok/v1/chat/completions', { json: completion });
      const app = await appFactories[name]!({ env: {}, bodyParser: false, limits: { maxBodyBytes: 4096 }, config: { targets: [{ provider: 'openai', api_key: 'k', custom_host: `${up.url}/ok/v1` }] } });
      const r = await flood(`${app.gatewayURL}/v1/chat/completions`, chunked ? 'Transfer-Encoding: chunked\r\n' : 'Content-Length: 2000000000\r\n', chunked, 3000);
      console.log(name, chunked, JSON.stringify(r), 'inflight', app.gateway.internals.inflight.size);
      await app.close();
    });
  }
});
