/**
 * Observability and the admin surfaces (logs, records, redaction, metrics, spans, playground, usage
 * view), through the real adapters and the official `openai` SDK where it matters. Tests whose
 * comment starts "Regression" failed before the fix it describes.
 */
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type RequestLogRecord } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { chatRequest, metricValue, nextTurn, scrape, scriptUpstream, streamEvents, targetAt } from './helpers/observe.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
const apps: TestApp[] = [];

beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
  up.route('/hang/v1/chat/completions', { hang: true });
  up.route('/drip/v1/chat/completions', { chunks: streamEvents, chunkDelayMs: 100 });
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, logger: false, routing: { sleep: async () => undefined }, ...options });
  gateways.push(g);
  return g;
}

async function app(name: string, options: GatewayOptions): Promise<TestApp> {
  const a = await appFactories[name]!({ env: {}, logger: false, ...options } as never);
  apps.push(a);
  return a;
}

const lastRecord = (g: Gateway): RequestLogRecord => recentRequests(g).records[0]!;

/** A pino-compatible logger that notes the level of each `llmux request` line. */
function levelLogger(lines: Array<{ level: string; record: RequestLogRecord }>) {
  const at = (level: string) => (obj: unknown, msg?: string) => {
    if (msg === 'llmux request') lines.push({ level, record: obj as RequestLogRecord });
  };
  const logger: any = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
  logger.child = () => logger;
  return logger;
}

const settle = async () => {
  await nextTurn();
  await new Promise((r) => setTimeout(r, 30));
};

describe('playground chat refused by a limit', () => {
  // Regression. docs/observability.md: `llmux_requests_in_flight` (gauge) is "Requests being handled right now";
  // docs/observability.md (Limits): "`gateway.close(deadlineMs)` … waits for requests in flight". A 429 is
  // not in flight once answered. Root cause: pinned-chat.ts:67 builds the state on a *copy* of the
  // request (withoutAdminKey), so finish-request.ts:30 `openedState(call.req)` never finds it and the
  // `after` stages (which leave the in-flight count) never run.
  it('leaves nothing in flight: the gauge returns to 0 and close() does not wait out its deadline', async () => {
    const ADMIN = 'review-admin-key-0123456789';
    const a = await app('express5', { adminKey: ADMIN, config: { targets: [{ provider: 'mock' }], rate_limit: { requests_per_minute: 1 } } });
    const send = () =>
      fetch(`${a.gatewayURL}/playground/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-llmux-admin-key': ADMIN },
        body: JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }),
      });
    expect((await send()).status).toBe(200);
    expect((await send()).status).toBe(429);
    const metrics = await (await fetch(`${a.gatewayURL}/metrics`, { headers: { 'x-llmux-admin-key': ADMIN } })).text();
    expect(metricValue(metrics, 'llmux_requests_in_flight')).toBe(0);
    // The refusal's record carries what the client asked for, like any /v1/chat/completions refusal.
    expect(lastRecord(a.gateway)).toMatchObject({ status: 429, requested_model: 'mock-1' });
    const started = Date.now();
    await a.gateway.close(1500);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('redaction of credential-named fields', () => {
  // Regression. docs/observability.md (Bodies and redaction, step 1): "The whole value of a credential-named
  // field (`api_key`, `authorization`, `password`, `*_token`, …) is replaced too."
  // Root cause: redact-record.ts:11 CREDENTIAL_FIELD only knows (access|refresh|id|session|bearer)_token,
  // and redact-record.ts:112 only replaces *string* values (an api_key holding an array/object is walked).
  it('replaces any *_token field, and a credential field whatever its value, in metadata and bodies', async () => {
    const records: RequestLogRecord[] = [];
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, logBodies: true, onLog: (r) => void records.push(r) });
    await g.handle(
      chatRequest(
        { model: 'mock-1', metadata: { github_token: 'ghp-review-secret-1', auth_token: 'review-secret-2' } },
        { 'x-llmux-metadata': JSON.stringify({ hf_token: 'review-secret-3', api_key: ['review-secret-4'] }) },
      ),
    );
    await settle();
    const text = JSON.stringify(records);
    expect(records).toHaveLength(1);
    for (const s of ['ghp-review-secret-1', 'review-secret-2', 'review-secret-3', 'review-secret-4']) expect(text, s).not.toContain(s);
  });
});

describe('redaction of key-shaped strings', () => {
  // Regression. docs/observability.md: "any key-shaped string (`sk-…`, `AIza…`, `AKIA…`, `Bearer …`, …)" is
  // replaced with [REDACTED]. RFC 6750 bearer tokens may contain `+ / ~ =`.
  // Root cause: upstream/redact.ts:2 — `Bearer\s+[A-Za-z0-9._\-]{8,}` stops at the first `+` or `/`
  // (and matches nothing if it comes within 8 characters).
  it('replaces a whole Bearer token, base64 characters included', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, logBodies: true });
    const content = 'curl -H "Authorization: Bearer ab+cdEFghIJklMNopQR==" and Bearer abcdefghij/KLMNOP+qrstuv';
    await g.handle(chatRequest({ model: 'mock-1', messages: [{ role: 'user', content }] }));
    const text = JSON.stringify(lastRecord(g));
    expect(text).not.toContain('cdEFghIJklMNopQR');
    expect(text).not.toContain('KLMNOP+qrstuv');
  });
});

describe('a gateway key configured by its hash only', () => {
  // Regression. docs/observability.md: "Every string in the record is searched for … the gateway and admin
  // keys"; "Provider and gateway keys never appear in logs" (README). With `{ hash: 'sha256:…' }` (the
  // documented way to keep keys out of config) the key the client presented is known for this request,
  // but it is not in the secret list. Root cause: redact-record.ts:58 only uses keyring.secrets, which
  // holds plain `key:` entries (auth/keyring.ts:51); the presented key is never added.
  it('is redacted from the record of the request that presented it', async () => {
    const KEY = 'review-team-key-plain-abcdef123456';
    const records: RequestLogRecord[] = [];
    const g = gateway({
      config: { targets: [{ provider: 'mock' }] },
      logBodies: true,
      auth: { keys: [{ hash: `sha256:${createHash('sha256').update(KEY).digest('hex')}`, name: 'team' }] },
      onLog: (r) => void records.push(r),
    });
    const res = await g.handle(
      chatRequest({ model: 'mock-1', messages: [{ role: 'user', content: `why does ${KEY} not work?` }] }, { authorization: `Bearer ${KEY}`, 'x-llmux-metadata': JSON.stringify({ note: KEY }) }),
    );
    expect(res.status).toBe(200);
    await settle();
    expect(records).toHaveLength(1);
    expect(records[0]!.identity?.key).toBe('team');
    expect(JSON.stringify(records)).not.toContain(KEY);
  });
});

describe('metric labels stay bounded in size', () => {
  // Regression. docs/observability.md: "`metrics.maxLabelValues` … Model names come from clients, so further
  // values are counted as `other`" — the bound exists so one client cannot grow the registry and every
  // scrape. Values are bounded in number but not in length: each 100 kB model name is copied into ~16
  // series (counter + histogram buckets), ~3 MB of scrape per request, ~600 MB at 200 values.
  // Root cause: label-guard.ts:10 `value()` accepts any length.
  it('a long client model name does not become a label value verbatim', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] } });
    // The longest model name a request may carry (512 characters; longer ones are a 400 naming model).
    for (let i = 0; i < 5; i++) expect((await g.handle(chatRequest({ model: `m${i}-${'x'.repeat(509)}` }))).status).toBe(200);
    const m = await scrape(g);
    expect(m).not.toContain('x'.repeat(200));
    expect(m.length).toBeLessThan(200_000);
  });
});

describe('a client that leaves a non-stream request', () => {
  // Regression. docs/observability.md: logger lines are "`info` when the request was answered or the client
  // left"; log-record.ts documents `client_closed` as "the client left before the end".
  // Observed: outcome 'error', status 499, logged at `warn` as if the gateway refused it.
  // Root cause: build-record.ts:55 outcomeOf() maps to client_closed only for `incomplete` streams;
  // logger-sink.ts:6 then treats the 499 as a refusal.
  it('is recorded as client_closed and logged at info (openai SDK timeout through Express)', async () => {
    const lines: Array<{ level: string; record: RequestLogRecord }> = [];
    const a = await app('express5', { config: { targets: [targetAt(up, 'hang' as never)] }, logger: levelLogger(lines) });
    const client = new OpenAI({ apiKey: 'x', baseURL: `${a.gatewayURL}/v1`, maxRetries: 0, timeout: 200 });
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    await settle();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.record).toMatchObject({ status: 499, outcome: 'client_closed' });
    expect(lines[0]!.level).toBe('info');
  });
});

describe('a provider that fails with a 4xx', () => {
  // Regression (a judgement call on "refused" vs "failed"; only set-up failures count, see logger-sink.ts). docs/observability.md: "`warn` when it was refused
  // (4xx), and `error` when the gateway or a provider failed"; options.ts: "(`info` answered, `warn`
  // refused, `error` failed)". A provider rejecting the *server's* key (record error.source 'provider')
  // is a failure the operator must see at error level, not a refusal of the client.
  // Root cause: logger-sink.ts:8 decides by status only (`r.status >= 500`), ignoring error.source.
  it('is logged at error level', async () => {
    const lines: Array<{ level: string; record: RequestLogRecord }> = [];
    const g = gateway({ config: { targets: [targetAt(up, 'bad-key')] }, logger: levelLogger(lines) });
    expect((await g.handle(chatRequest())).status).toBe(401);
    await settle();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.record.error).toMatchObject({ source: 'provider' });
    expect(lines[0]!.level).toBe('error');
  });

  it("but a provider refusing the client's own request (400: a too-long prompt) stays a warn", async () => {
    const lines: Array<{ level: string; record: RequestLogRecord }> = [];
    up.route('/too-long/v1/chat/completions', {
      status: 400,
      json: { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded' } },
    });
    const g = gateway({ config: { targets: [{ ...targetAt(up, 'ok'), custom_host: `${up.url}/too-long/v1` }] }, logger: levelLogger(lines) });
    expect((await g.handle(chatRequest())).status).toBe(400);
    await settle();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.record.error).toMatchObject({ source: 'provider' });
    expect(lines[0]!.level).toBe('warn');
  });
});

describe('a request whose provider call failed', () => {
  // Regression. DESIGN.md: every response carries `x-llmux-provider` and `x-llmux-target`; docs/observability.md:
  // the record feeds every sink, and `llmux_request_errors_total` has a `provider` label. The error
  // response names provider `openai` and target `config.targets[0]`, but the record has neither, so
  // every provider error is counted under provider="none" and its span has no gen_ai.provider.name.
  // Root cause: build-record.ts:116 takes provider/target only from state.target, which pipeline/chat.ts
  // sets only on success (the failing `env.last` is used for the headers at chat.ts:171, not kept).
  it('names the provider and target in its record and metrics, as its response headers do', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'bad-key')] } });
    const res = await g.handle(chatRequest());
    expect(res.status).toBe(401);
    expect(res.headers['x-llmux-provider']).toBe('openai');
    expect(res.headers['x-llmux-target']).toBe('config.targets[0]');
    expect(lastRecord(g)).toMatchObject({ provider: 'openai', target: 'config.targets[0]', outcome: 'error' });
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_request_errors_total', { provider: 'openai', source: 'provider' })).toBe(1);
  });
});

describe('one record per request through every adapter', () => {
  // docs/observability.md: "Every request through llmux leaves one structured record" — checked here
  // end to end with the openai SDK against each adapter: answer, stream, stream left mid-way, stream cut.
  for (const name of ['express5', 'koa3', 'nestjs']) {
    it(name, async () => {
      const records: RequestLogRecord[] = [];
      const onLog = (r: RequestLogRecord) => void records.push(r);
      const ok = await app(name, { onLog, config: { targets: [targetAt(up, 'ok')] } });
      const drip = await app(name, { onLog, config: { targets: [targetAt(up, 'drip' as never)] } });
      const cut = await app(name, { onLog, config: { targets: [targetAt(up, 'cut')] } });
      const sdk = (a: TestApp) => new OpenAI({ apiKey: 'x', baseURL: `${a.gatewayURL}/v1`, maxRetries: 0 });
      const msg = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
      await sdk(ok).chat.completions.create(msg);
      for await (const _ of await sdk(ok).chat.completions.create({ ...msg, stream: true })) void _;
      for await (const _ of await sdk(drip).chat.completions.create({ ...msg, stream: true })) break;
      await expect(
        (async () => {
          for await (const _ of await sdk(cut).chat.completions.create({ ...msg, stream: true })) void _;
        })(),
      ).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 400));
      await settle();
      expect(records.map((r) => [r.stream, r.status, r.outcome])).toEqual([
        [false, 200, 'success'],
        [true, 200, 'success'],
        [true, 499, 'client_closed'],
        [true, 502, 'stream_cut'],
      ]);
      for (const r of records) expect(r.ttft_ms).toBeGreaterThanOrEqual(0);
      expect(records[0]!.usage?.total_tokens).toBeGreaterThan(0);
      expect(records[1]!.cost_usd).toBeGreaterThan(0);
    });
  }
});
