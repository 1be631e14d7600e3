import { describe, expect, it } from 'vitest';
import { createGateway } from '../../src/index.js';

/** Rate limits by a client-sent metadata field, through `handle()` with the built-in mock provider. */
function gateway() {
  return createGateway({
    config: { targets: [{ provider: 'mock' }], rate_limit: { requests_per_minute: 2, scope: 'metadata.session' } },
    adminKey: 'admin',
    logger: false,
    metrics: false,
  });
}

/** The rate-limit rows of the admin usage view. */
const usageRows = async (gw: ReturnType<typeof gateway>) =>
  ((await gw.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } })).body as { rate_limits: Array<{ scope_value?: string; used: number }> }).rate_limits;

const ask = (gw: ReturnType<typeof gateway>, session: string) =>
  gw.handle({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', 'x-llmux-metadata': JSON.stringify({ session }) },
    body: { model: 'mock-1', messages: [{ role: 'user', content: 'hi' }] },
  });

describe('scope values that are long, or odd, still name one caller each', () => {
  it('gives two long session ids that share their first 250 characters a limit each', async () => {
    const gw = gateway();
    const prefix = 's'.repeat(250);
    const a = `${prefix}-alice`;
    const b = `${prefix}-bob`;
    expect((await ask(gw, a)).status).toBe(200);
    expect((await ask(gw, a)).status).toBe(200);
    expect((await ask(gw, a)).status).toBe(429);
    // Cut to a bounded key, but not merged with its neighbour: b still has its own two requests.
    expect((await ask(gw, b)).status).toBe(200);
    expect((await ask(gw, b)).status).toBe(200);
    expect((await ask(gw, b)).status).toBe(429);
    await gw.close();
  });

  it('keeps values holding the separators of its keys (":" and "=") whole: apart from others, and named as sent in the usage view', async () => {
    const gw = gateway();
    expect((await ask(gw, 'x:y=z')).status).toBe(200);
    expect((await ask(gw, 'x:y=z')).status).toBe(200);
    expect((await ask(gw, 'x:y=z')).status).toBe(429);
    expect((await ask(gw, 'x')).status).toBe(200);
    expect((await ask(gw, 'x%3Ay%3Dz')).status).toBe(200);
    const rows = await usageRows(gw);
    expect(rows).toHaveLength(3);
    expect(Object.fromEntries(rows.map((r) => [r.scope_value, r.used]))).toEqual({ x: 1, 'x%3Ay%3Dz': 1, 'x:y=z': 2 });
    await gw.close();
  });
});
