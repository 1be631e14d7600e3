import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const prefix = `llmux-test:${crypto.randomUUID()}:`;
let upstream: MockUpstream;
let child: ChildProcess | undefined;

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await upstream.close();
});

const options = () => ({
  pricing: { 'budget-model': { input: 0, output: 1_000_000 } },
  limitOptions: { reservationTtl: 1.5 },
  config: {
    targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
    budget: { max_cost_per_day: 1 },
  },
});
const request = {
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json' },
  body: { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
};

describe('a reservation whose instance crashed', () => {
  it('holds the budget only until it expires, then frees it on its own', async () => {
    upstream.route('/v1/chat/completions', (req) =>
      req.json.messages[0].content === 'hang' ? { hang: true } : { json: { id: 'x', object: 'chat.completion', created: 1, model: 'budget-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } },
    );
    // Another process reserves the whole budget for a request the upstream never answers, then dies.
    const script = `
      const { createGateway } = await import(${JSON.stringify(`${root}packages/core/src/index.ts`)});
      const { createRedisStore } = await import(${JSON.stringify(`${root}packages/redis/src/index.ts`)});
      const gateway = createGateway({ ...${JSON.stringify(options())}, store: createRedisStore({ prefix: ${JSON.stringify(prefix)} }) });
      gateway.handle(${JSON.stringify({ ...request, body: { ...request.body, messages: [{ role: 'user', content: 'hang' }] } })});
    `;
    child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, stdio: 'inherit' });
    for (let i = 0; i < 200 && upstream.requests.length === 0; i++) await sleep(50);
    expect(upstream.requests).toHaveLength(1);
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));

    const gateway = createGateway({ ...options(), store: createRedisStore({ prefix }) });
    try {
      const held = await gateway.handle(request);
      expect(held.status).toBe(402);
      expect((held.body as any).error).toMatchObject({ spent: 0, reserved: 1 });
      await sleep(1600);
      const freed = await gateway.handle(request);
      expect(freed.status).toBe(200);
      expect(freed.headers['x-llmux-cost']).toBe('1');
    } finally {
      await gateway.close(1000);
    }
  });
});
