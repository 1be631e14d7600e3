import { afterAll, describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';

const g = createGateway({ env: {}, limits: { maxJsonDepth: 8 }, config: { provider: 'mock' } });
afterAll(() => g.close(100));
const chat = (headers: Record<string, string>) =>
  g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...headers }, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
/** A number inside `levels` containers: the object and `levels - 1` arrays. */
const nested = (levels: number) => `{"a":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;

describe('metadata header depth', () => {
  it.each(['x-portkey-metadata', 'x-llmux-metadata'])('%s deeper than limits.maxJsonDepth is a 400 naming the header; at the limit it is taken', async (header) => {
    expect((await chat({ [header]: nested(8) })).status).toBe(200);
    const res = await chat({ [header]: nested(9) });
    expect(res.status).toBe(400);
    expect((res.body as { error: { param: string; code: string } }).error).toMatchObject({ code: 'invalid_request', param: header });
  });
});
