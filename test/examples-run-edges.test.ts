/**
 * The example apps as a newcomer runs them: each server file started with `node` as a child process
 * (no provider keys, so the built-in mock answers), then driven with the openai SDK over loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

const root = fileURLToPath(new URL('..', import.meta.url));

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/API_KEY|AWS_|VITEST|NODE_OPTIONS|^PORT$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const children: ChildProcess[] = [];
const output = new Map<ChildProcess, string>();

async function startExample(dir: string, file: string, extra: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [file], {
    cwd: `${root}examples/${dir}`,
    env: cleanEnv({ PORT: String(port), ...extra }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  output.set(child, '');
  child.stdout!.on('data', (d) => output.set(child, output.get(child) + String(d)));
  child.stderr!.on('data', (d) => output.set(child, output.get(child) + String(d)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    if (child.exitCode !== null) throw new Error(`${dir} exited: ${output.get(child)}`);
    try {
      await fetch(`${url}/llm/v1/models`);
      return { url, child, port };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${dir} did not start: ${output.get(child)}`);
}

afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }
});

function client(url: string, extra: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) {
  return new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: 'unused', maxRetries: 0, timeout: 5000, ...extra });
}

/** The newcomer checks every single-process example must pass. */
function commonChecks(name: string, start: () => Promise<{ url: string }>) {
  describe(`${name}: newcomer checks with the openai SDK`, () => {
    let url = '';
    beforeAll(async () => {
      ({ url } = await start());
    }, 20_000);

    it('chat non-stream answers from the mock', async () => {
      const c = await client(url).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello!' }] });
      expect(c.object).toBe('chat.completion');
      expect(typeof c.choices[0].message.content).toBe('string');
      expect(c.choices[0].message.content!.length).toBeGreaterThan(0);
      expect(c.usage?.total_tokens).toBeGreaterThan(0);
    });

    it('chat stream yields deltas and a finish_reason', async () => {
      const stream = await client(url).chat.completions.create({
        model: 'gpt-4o-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Hi' }],
      });
      let text = '';
      let finish: string | null | undefined;
      let usage: unknown;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish ??= chunk.choices[0]?.finish_reason;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text.length).toBeGreaterThan(0);
      expect(finish).toBe('stop');
      expect(usage).toBeTruthy();
    });

    it('embeddings (float and base64 via the SDK default)', async () => {
      const e = await client(url).embeddings.create({ model: 'text-embedding-3-small', input: ['a cat', 'a dog'] });
      expect(e.object).toBe('list');
      expect(e.data).toHaveLength(2);
      expect(e.data[0].embedding.length).toBeGreaterThan(0);
      expect(e.data[0].embedding.every((x) => Number.isFinite(x))).toBe(true);
      const f = await client(url).embeddings.create({ model: 'text-embedding-3-small', input: 'a cat', encoding_format: 'float' });
      // The SDK asks for base64 (float32) by default; the values match the float form to float32 precision.
      f.data[0].embedding.forEach((x, i) => expect(e.data[0].embedding[i]).toBeCloseTo(x, 6));
    });

    it('GET /v1/models lists something and models.retrieve works for a listed id', async () => {
      const list = [];
      for await (const m of client(url).models.list()) list.push(m);
      expect(list.length).toBeGreaterThan(0);
      for (const m of list) expect(m.object).toBe('model');
      const one = await client(url).models.retrieve(list[0].id);
      expect(one.id).toBe(list[0].id);
    });

    it('a malformed JSON body gets an OpenAI-shaped 400', async () => {
      const res = await fetch(`${url}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"model":"gpt-4o-mini","messages":[',
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = await res.json();
      expect(body.error).toBeTruthy();
      expect(typeof body.error.message).toBe('string');
      expect(body.error.type).toBe('invalid_request_error');
    });

    it('a malformed body via the SDK surfaces as openai.BadRequestError', async () => {
      // missing messages: a schema error, not JSON syntax
      const err = await client(url)
        .chat.completions.create({ model: 'gpt-4o-mini' } as never)
        .catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.status).toBe(400);
      expect(err.error?.type ?? err.type).toBe('invalid_request_error');
    });

    it('an unknown gateway route is an OpenAI-shaped 404, not the host page', async () => {
      const res = await fetch(`${url}/llm/v1/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(404);
      const body = await res.json().catch(() => null);
      expect(body?.error?.message).toBeTruthy();
    });
  });
}

describe('examples/koa', () => {
  let url = '';
  commonChecks('koa', async () => {
    const s = await startExample('koa', 'server.mjs');
    url = s.url;
    return s;
  });

  it('host routes keep working: GET / and POST /echo with a JSON body', async () => {
    const home = await fetch(`${url}/`);
    expect(home.status).toBe(200);
    expect(await home.json()).toEqual({ app: 'koa example', gateway: '/llm/v1' });
    const echo = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(echo.status).toBe(200);
    expect(await echo.json()).toEqual({ youSent: { a: 1 } });
  });

  it('an oversized body (declared over the 10 MiB default) gets an OpenAI-shaped 413 from the gateway', async () => {
    const { request } = await import('node:http');
    const u = new URL(`${url}/llm/v1/chat/completions`);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(11 * 1024 * 1024) } },
        (res) => {
          let b = '';
          res.on('data', (d) => (b += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: b }));
        },
      );
      req.on('error', () => {}); // the server may stop reading early; the answer still counts
      setTimeout(() => reject(new Error('no answer')), 4000);
      req.write('{"model":"x","messages":[');
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.message).toBeTruthy();
  });

  it('the banner printed at start-up names the port the app listens on', async () => {
    const child = children.find((c) => output.get(c)?.includes('Koa example'));
    expect(output.get(child!)).toContain(`${url.replace('127.0.0.1', 'localhost')}/llm/v1`);
  });
});

describe('examples/nestjs', () => {
  let url = '';
  commonChecks('nestjs', async () => {
    const s = await startExample('nestjs', 'main.mjs');
    url = s.url;
    return s;
  });

  it('host routes keep working: GET / and POST /summarize through GatewayService', async () => {
    const home = await fetch(`${url}/`);
    expect(home.status).toBe(200);
    expect((await home.json()).app).toBe('nestjs example');
    const sum = await fetch(`${url}/summarize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text":"llmux is a gateway"}' });
    expect(sum.status).toBe(200);
    const body = await sum.json();
    expect(typeof body.summary).toBe('string');
    expect(body.summary.length).toBeGreaterThan(0);
  });

  it('a 300 kB chat (over Nest\'s 100 kB default) goes through, as the example\'s comment promises', async () => {
    const c = await client(url).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'word '.repeat(60_000) }] });
    expect(c.choices[0].message.content).toBeTruthy();
  });

  it('a host route 404 stays the host 404 (Nest JSON), the gateway does not swallow it', async () => {
    const res = await fetch(`${url}/not-a-route`);
    expect(res.status).toBe(404);
  });
});

describe('examples/multi-instance (two processes, one Redis)', () => {
  const prefix = `llmux-review-examples:${process.pid}:${Date.now()}:`;
  let a = '';
  let b = '';
  beforeAll(async () => {
    const env = { LLMUX_PREFIX: prefix, LLMUX_ADMIN_KEY: 'review-admin' };
    [a, b] = (await Promise.all([startExample('multi-instance', 'server.mjs', { ...env, INSTANCE: 'A' }), startExample('multi-instance', 'server.mjs', { ...env, INSTANCE: 'B' })])).map((s) => s.url);
  }, 20_000);

  it('host route /health works on both', async () => {
    for (const u of [a, b]) {
      const r = await fetch(`${u}/health`);
      expect(r.status).toBe(200);
      expect((await r.json()).ok).toBe(true);
    }
  });

  // BUG: with the example's $0.05/day budget, any chat without max_tokens (the README's own curl/SDK snippet) is a 402 on an untouched budget: "spent $0 … may use up to $0.8197"
  it('a README-style chat (no max_tokens) through the SDK is answered on an untouched budget', async () => {
    const c = client(a, { defaultHeaders: { 'x-user-id': 'readme-user' } });
    const chat = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello!' }] });
    expect(chat.choices[0].message.content).toBeTruthy();
  });

  it('chat non-stream, stream, embeddings and models work through the SDK (with max_tokens, as demo.mjs sends)', async () => {
    const c = client(a, { defaultHeaders: { 'x-user-id': 'sdk-user' } });
    const chat = await c.chat.completions.create({ model: 'any', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    expect(chat.choices[0].message.content).toBeTruthy();
    const s = await c.chat.completions.create({ model: 'any', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const ch of s) text += ch.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    const e = await c.embeddings.create({ model: 'any', input: 'x' });
    expect(e.data[0].embedding.length).toBeGreaterThan(0);
    const models = [];
    for await (const m of c.models.list()) models.push(m.id);
    expect(models.length).toBeGreaterThan(0);
  });

  it('a malformed body gets an OpenAI-shaped 400', async () => {
    const res = await fetch(`${b}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': 'bad' }, body: '{nope' });
    expect(res.status).toBe(400);
    expect((await res.json()).error.type).toBe('invalid_request_error');
  });

  it('one per-user rate limit across both processes: the sixth request is 429 on either instance', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await fetch(`${[a, b][i % 2]}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify({ model: 'any', max_tokens: 5, messages: [{ role: 'user', content: `r${i}` }] }),
      });
      statuses.push(r.status);
      const body = await r.json();
      if (r.status === 429) {
        expect(body.error.code).toBe('rate_limited'); // DESIGN's fixed code list
        expect(body.error.type).toBe('rate_limit_error');
        expect(r.headers.get('retry-after')).toBeTruthy();
      }
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
    // The SDK sees a RateLimitError too.
    const err = await client(b, { defaultHeaders: { 'x-user-id': 'alice' } })
      .chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('one budget across both processes: spending on A and B ends in a 402, and /usage on B counts both', async () => {
    let got402 = -1;
    for (let i = 0; i < 60; i++) {
      const r = await fetch(`${[a, b][i % 2]}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': `budget-u${i}` },
        body: JSON.stringify({ model: 'any', max_tokens: 40, messages: [{ role: 'user', content: `Request ${i} spends` }] }),
      });
      await r.arrayBuffer();
      if (r.status === 402) {
        got402 = i;
        break;
      }
      expect(r.status).toBe(200);
    }
    expect(got402).toBeGreaterThan(0);
    // Once spent, both instances refuse.
    for (const u of [a, b]) {
      const r = await fetch(`${u}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'late' },
        body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'x' }] }),
      });
      expect(r.status).toBe(402);
      await r.arrayBuffer();
    }
    const usage = await fetch(`${b}/llm/usage`, { headers: { authorization: 'Bearer review-admin' } }).then((r) => r.json());
    const budget = usage.budgets.find((x: { period: string }) => x.period === 'day') ?? usage.budgets[0];
    expect(budget.limit).toBe(0.05);
    // Admission stops once spent + the next worst case (max_tokens 40) would pass $0.05 (DESIGN).
    expect(budget.spent).toBeGreaterThan(0.035);
    expect(budget.spent).toBeLessThanOrEqual(0.05);
  }, 20_000);
});
