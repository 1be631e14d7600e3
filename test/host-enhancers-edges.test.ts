import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Controller, Inject, Module, Post, Sse, Body, HttpCode, Query, RequestTimeoutException, type CallHandler, type NestInterceptor, type ExecutionContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { catchError, map, throwError, timeout, TimeoutError } from 'rxjs';
import { afterAll, beforeAll, beforeEach, it, vi, expect } from 'vitest';
import { GatewayModule, GatewayService } from '@llmux/nestjs';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { readUntil } from './helpers/read-until.js';

let upstream: MockUpstream;
beforeAll(async () => { upstream = await startMockUpstream(); });
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = () => ({ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1` });
function decorate(target: any, method: string, ...decorators: Array<(t: any, k: string, d: PropertyDescriptor) => void>) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method)!;
  for (const d of decorators) d(target.prototype, method, descriptor);
}

it('probe GatewayService in controllers', async () => {
  class Ctl {
    constructor(private readonly llm: GatewayService) {}
    async summarize(body: any) { const c = await this.llm.chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: String(body?.text) }] }); return { summary: c.choices[0]?.message.content }; }
    live() { return this.llm.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(map((c) => ({ data: c }))); }
  }
  Controller()(Ctl);
  Inject(GatewayService)(Ctl, undefined as never, 0);
  decorate(Ctl, 'summarize', Post('summarize'), HttpCode(200));
  Body()(Ctl.prototype, 'summarize', 0);
  decorate(Ctl, 'live', Sse('live'));
  class Timeout implements NestInterceptor {
    intercept(_ctx: ExecutionContext, next: CallHandler) {
      return next.handle().pipe(timeout(500), catchError((err) => throwError(() => (err instanceof TimeoutError ? new RequestTimeoutException() : err))));
    }
  }
  class AppModule {}
  Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()], rate_limit: { requests_per_minute: 2 } } })], controllers: [Ctl] })(AppModule);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
  app.useGlobalInterceptors(new Timeout());
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
  upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 150 }, { json: COMPLETION });
  const live = await fetch(`${url}/live`);
  const t = await live.text();
  console.log('live', live.status, t.split('\n\n').length, t.slice(-100));
  for (let i = 0; i < 2; i++) {
    const r = await fetch(`${url}/summarize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"x"}' });
    console.log('summarize', r.status, (await r.text()).slice(0, 200));
  }
  (app.getHttpServer() as Server).closeAllConnections();
  await app.close();
});
