/**
 * `GET /v1/models/{id}` — what `client.models.retrieve(id)` calls in the openai and portkey-ai SDKs:
 * a model the gateway lists comes back as OpenAI's model object; any other id is OpenAI's 404
 * (`model_not_found`), which the SDK raises as NotFoundError. Under gateway keys it needs a key too.
 */
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';

const config = {
  model_aliases: { fast: 'gpt-4o-mini' },
  strategy: { mode: 'fallback' },
  targets: [
    { provider: 'openai', api_key: 'sk-a', override_params: { model: 'gpt-4o-mini' } },
    { provider: 'together', api_key: 'sk-b', override_params: { model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo' } },
  ],
};

let app: TestApp | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe.each(['express5', 'koa3', 'nestjs'])('%s: GET /v1/models/{id}', (name) => {
  it('a listed model (an id with slashes too) comes back as the model object; another id is a 404 the SDK raises', async () => {
    app = await appFactories[name]!({ config, logger: false } as never);
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const listed = (await client.models.list()).data.map((m) => m.id);
    expect(listed).toEqual(expect.arrayContaining(['fast', 'gpt-4o-mini', 'meta-llama/Llama-3.3-70B-Instruct-Turbo']));
    expect(await client.models.retrieve('gpt-4o-mini')).toEqual({ id: 'gpt-4o-mini', object: 'model', created: 0, owned_by: 'openai' });
    expect(await client.models.retrieve('meta-llama/Llama-3.3-70B-Instruct-Turbo')).toMatchObject({ id: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', owned_by: 'together' });
    expect(await client.models.retrieve('fast')).toMatchObject({ id: 'fast', owned_by: 'llmux' });
    const err = await client.models.retrieve('gpt-5-imaginary').catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ code: 'model_not_found', param: 'model', type: 'not_found_error' });
    expect(err.message).toMatch(/gpt-5-imaginary/);
  });
});

describe('GET /v1/models/{id} details', () => {
  it('percent-encoded ids are decoded, HEAD answers without a body, other methods get a 405, and the portkey SDK retrieves too', async () => {
    app = await appFactories.express5!({ config, logger: false } as never);
    const encoded = await fetch(`${app.gatewayURL}/v1/models/${encodeURIComponent('meta-llama/Llama-3.3-70B-Instruct-Turbo')}`);
    expect(encoded.status).toBe(200);
    expect(((await encoded.json()) as { id: string }).id).toBe('meta-llama/Llama-3.3-70B-Instruct-Turbo');
    const broken = await fetch(`${app.gatewayURL}/v1/models/%E0%A4%A`);
    expect(broken.status).toBe(404);
    const head = await fetch(`${app.gatewayURL}/v1/models/gpt-4o-mini`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const del = await fetch(`${app.gatewayURL}/v1/models/gpt-4o-mini`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    const portkey = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 } as never);
    expect(await portkey.models.retrieve('gpt-4o-mini')).toMatchObject({ id: 'gpt-4o-mini', object: 'model' });
  });

  it('with gateway keys, retrieving a model needs a key like listing them', async () => {
    app = await appFactories.express5!({ config, logger: false, auth: { keys: [{ key: 'gk-team-a-0123456789', name: 'team-a' }] } } as never);
    expect((await fetch(`${app.gatewayURL}/v1/models/gpt-4o-mini`)).status).toBe(401);
    const ok = await fetch(`${app.gatewayURL}/v1/models/gpt-4o-mini`, { headers: { authorization: 'Bearer gk-team-a-0123456789' } });
    expect(ok.status).toBe(200);
  });
});
