import { describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';

const page = { method: 'GET', path: '/playground', headers: {} };
const config = { targets: [{ provider: 'mock' }] };

describe('playground default', () => {
  it('is served while developing', async () => {
    const gw = createGateway({ config, env: {} });
    expect((await gw.handle(page)).status).toBe(200);
  });

  it('is absent in production without an admin key, so usage data is never public by accident', async () => {
    const gw = createGateway({ config, env: { NODE_ENV: 'production' } });
    expect((await gw.handle(page)).status).toBe(404);
    expect((await gw.handle({ method: 'GET', path: '/playground/api/usage', headers: {} })).status).toBe(404);
  });

  it('is served in production behind an admin key, and its API asks for the key', async () => {
    const gw = createGateway({ config, env: { NODE_ENV: 'production' }, adminKey: 'admin-secret-1' });
    expect((await gw.handle(page)).status).toBe(200);
    expect((await gw.handle({ method: 'GET', path: '/playground/api/usage', headers: {} })).status).toBe(401);
    const ok = await gw.handle({ method: 'GET', path: '/playground/api/usage', headers: { authorization: 'Bearer admin-secret-1' } });
    expect(ok.status).toBe(200);
  });

  it('can be switched on or off explicitly', async () => {
    expect((await createGateway({ config, env: { NODE_ENV: 'production' }, playground: true }).handle(page)).status).toBe(200);
    expect((await createGateway({ config, env: {}, playground: false }).handle(page)).status).toBe(404);
  });
});
