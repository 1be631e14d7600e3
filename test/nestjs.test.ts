import { Inject, VersioningType } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatewayError, type GatewayContext } from '@llmux/core';
import { Gateway, GatewayModule, GatewayService } from '@llmux/nestjs';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { moduleClass, nestHarness } from './helpers/nest.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const hi = [{ role: 'user' as const, content: 'Hi' }];
const config = () => ({ targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` }] });

const nest = nestHarness();
const { boot } = nest;

/** Records the identity each request's pipeline saw. */
function probe(gateway: Gateway): GatewayContext[] {
  const seen: GatewayContext[] = [];
  gateway.internals.stages.unshift({ name: 'probe', before: (state) => void seen.push(state.identity) });
  return seen;
}

describe('GatewayService', () => {
  let service: GatewayService;
  let seen: GatewayContext[];
  beforeEach(async () => {
    await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: config(), shutdownDeadlineMs: 500 })] }));
    service = nest.app()!.get(GatewayService);
    seen = probe(nest.app()!.get(Gateway));
  });

  it('chat() answers with the completion and carries the given context', async () => {
    const recorded = fixtureJson('openai/chat-completions.text.json');
    upstream.enqueue('/v1/chat/completions', { json: recorded });
    const completion = await service.chat({ model: 'gpt-4o-mini', messages: hi }, { user: 'u-1', team: 't-1' });
    expect(completion.choices[0]!.message.content).toBe(recorded.choices[0].message.content);
    expect(seen).toEqual([{ user: 'u-1', team: 't-1' }]);
    expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-test');
  });

  it('chat() rejects bad input with a GatewayError naming the field, without calling the provider', async () => {
    const error = await service.chat({ model: 'gpt-4o-mini', messages: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ status: 400, param: 'messages' });
    expect(upstream.requests).toHaveLength(0);
  });

  it('stream() emits the chunks as an Observable and completes', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
    const chunks = await lastValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi }, { user: 'u-2' }).pipe(toArray()));
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(STREAM.map((e) => e.match(/"content":"([^"]*)"/)?.[1] ?? '').join(''));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(seen).toEqual([{ user: 'u-2' }]);
  });

  it('stream() stops the upstream call when the subscriber unsubscribes', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: [STREAM[0]! + STREAM[1]!, ...STREAM.slice(2)], chunkDelayMs: 5000 });
    const first = await firstValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(take(1)));
    expect(first.object).toBe('chat.completion.chunk');
    await vi.waitFor(() => expect(upstream.aborted).toBe(1));
  });

  it('stream() errors with the GatewayError when every target fails', async () => {
    upstream.enqueue('/v1/chat/completions', { status: 401, json: { error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    const error = await lastValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(401);
  });

  it('closes the gateway with the app: later calls are refused', async () => {
    const gateway = nest.app()!.get(Gateway);
    await nest.close();
    await expect(gateway.chat({ model: 'gpt-4o-mini', messages: hi })).rejects.toMatchObject({ code: 'gateway_closing' });
  });
});

describe('GatewayModule', () => {
  it('forRootAsync takes options from a factory with injected providers from imported modules', async () => {
    const ConfigModule = moduleClass({ providers: [{ provide: 'LLM_CONFIG', useFactory: () => config() }], exports: ['LLM_CONFIG'] });
    /** An app service in another module, using the global GatewayService. */
    class Summaries {
      constructor(readonly gateway: GatewayService) {}
    }
    Inject(GatewayService)(Summaries, undefined as never, 0);
    const FeatureModule = moduleClass({ providers: [Summaries] });
    const factory = vi.fn((cfg: ReturnType<typeof config>) => ({ config: cfg }));
    const url = await boot(
      moduleClass({
        imports: [
          GatewayModule.forRootAsync({ imports: [ConfigModule], inject: ['LLM_CONFIG'], useFactory: factory, basePath: '/ai', isGlobal: true }),
          FeatureModule,
        ],
      }),
    );
    expect(factory).toHaveBeenCalledTimes(1);
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const client = new OpenAI({ baseURL: `${url}/ai/v1`, apiKey: 'unused', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    expect(completion.object).toBe('chat.completion');
    expect((await fetch(`${url}/llm/v1/models`)).status).toBe(404);
    const viaService = await nest.app()!.get(Summaries).gateway.chat({ model: 'gpt-4o-mini', messages: hi });
    expect(viaService.id).toBe(completion.id);
  });

  it('refuses a basePath that only the async factory knows, naming the fix', async () => {
    const root = moduleClass({ imports: [GatewayModule.forRootAsync({ useFactory: () => ({ basePath: '/ai', config: config() }) })] });
    await expect(NestFactory.create(root, { logger: false, abortOnError: false })).rejects.toThrow(/forRootAsync\(\{ basePath: "\/ai"/);
  });

  it('stays unversioned under URI versioning and follows the global prefix', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: config() })] }), (a) => {
      a.setGlobalPrefix('api');
      a.enableVersioning({ type: VersioningType.URI, defaultVersion: '2' });
    });
    upstream.route('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    const client = new OpenAI({ baseURL: `${url}/api/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello' });
    expect(res.data).toHaveLength(1);
  });

  it("hands identify the request after the app's guards ran", async () => {
    const guard = {
      canActivate(ctx: { switchToHttp(): { getRequest(): any } }) {
        ctx.switchToHttp().getRequest().user = { id: 'u-9', org: 'acme' };
        return true;
      },
    };
    const root = moduleClass({
      imports: [GatewayModule.forRoot({ config: config(), identify: (req) => ({ user: req.user.id, team: req.user.org }) })],
      providers: [{ provide: APP_GUARD, useValue: guard }],
    });
    const url = await boot(root);
    const seen = probe(nest.app()!.get(Gateway));
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const res = await fetch(`${url}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: hi }),
    });
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ user: 'u-9', team: 'acme' }]);
  });
});
