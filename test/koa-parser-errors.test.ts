/**
 * Koa apps whose body parser must run before the gateway: `app.use(llm.errors)` ahead of the parser
 * wraps it, so the parser's refusal of a gateway request gets the gateway's own error (OpenAI shape,
 * or Anthropic's on /v1/messages) with a trace id and a log record instead of Koa's plain text; the
 * app's own routes keep Koa's error handling. Koa 2 and 3, with `@koa/bodyparser`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { bodyParser } from '@koa/bodyparser';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayMiddleware } from '@llmux/koa';

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function hostApp(Koa: typeof Koa3, records: Array<Record<string, any>>, withErrors = true) {
  const app = new Koa();
  app.silent = true;
  const llm = gatewayMiddleware({ config: { targets: [{ provider: 'mock' }] }, logger: false, onLog: (r) => void records.push(r as never) });
  if (withErrors) app.use(llm.errors);
  app.use(bodyParser({ jsonLimit: '1kb' }));
  app.use(llm);
  app.use(async (ctx) => {
    if (ctx.path === '/echo') ctx.body = { echoed: (ctx.request as { body?: unknown }).body };
  });
  const server = app.listen(0, '127.0.0.1') as Server;
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe.each([
  ['koa3', Koa3],
  ['koa2', Koa2 as unknown as typeof Koa3],
])('%s: llm.errors ahead of @koa/bodyparser', (_name, Koa) => {
  it('malformed JSON on a gateway route is a 400 in the OpenAI shape naming the body, with a trace id and a log record', async () => {
    const records: Array<Record<string, any>> = [];
    const url = await hostApp(Koa, records);
    const res = await post(`${url}/llm/v1/chat/completions`, '{"model": "gpt-4o-mini", "messages": [');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('x-llmux-trace-id')).toBeTruthy();
    const body = await res.json();
    expect(body.error).toMatchObject({ code: 'invalid_json', param: 'body', type: 'invalid_request_error' });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 400 });
  });

  it("a body over the parser's limit is a 413 the openai SDK raises as an APIError with the gateway's message", async () => {
    const url = await hostApp(Koa, []);
    const client = new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(4000) }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(413);
    expect(err.message).toMatch(/body parser limit/);
  });

  it("on /v1/messages the refusal is in Anthropic's error shape", async () => {
    const url = await hostApp(Koa, []);
    const res = await post(`${url}/llm/v1/messages`, '{"model":');
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
  });

  it("the app's own routes keep Koa's error handling, and good requests pass through untouched", async () => {
    const url = await hostApp(Koa, []);
    const own = await post(`${url}/echo`, '{"a":');
    expect(own.status).toBe(400);
    expect(own.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await (await post(`${url}/echo`, '{"a":1}')).json()).toEqual({ echoed: { a: 1 } });
    const chat = await post(`${url}/llm/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(chat.status).toBe(200);
    expect((await chat.json()).choices[0].message.content).toBeTruthy();
  });

  it('without llm.errors the refusal stays Koa\u2019s plain text (what the README warns about)', async () => {
    const url = await hostApp(Koa, [], false);
    const res = await post(`${url}/llm/v1/chat/completions`, '{"model":');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  });
});
