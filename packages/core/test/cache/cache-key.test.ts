import { describe, expect, it } from 'vitest';
import { exactKey, lastUserText, semanticPartition, type KeyInput } from '../../src/cache/cache-key.js';
import { canonicalJson, sha256Hex } from '../../src/cache/canonical-key.js';
import type { PlanNode } from '../../src/config/plan.js';
import type { ResolvedTarget } from '../../src/providers/types.js';

const target = (provider: string, extra: Record<string, unknown> = {}, apiKey = 'sk-1'): PlanNode => ({
  kind: 'target',
  path: 'config',
  target: { path: 'config', index: 0, provider, baseURL: `https://${provider}.example/v1`, overrideParams: {}, forwardHeaders: [], weight: 1, extra, apiKey } as ResolvedTarget,
});
const openai = target('openai');

function input(body: Record<string, unknown>, over: Partial<KeyInput> = {}): KeyInput {
  return {
    body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'What is Python?' }], ...body } as KeyInput['body'],
    model: (body.model as string) ?? 'gpt-4o',
    root: openai,
    identity: {},
    shared: false,
    includeApiKeys: false,
    ...over,
  };
}

describe('canonical form', () => {
  it('sorts object keys at every depth, keeps array order, drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: undefined } })).toBe('{"a":{"d":[2,1]},"b":1}');
    expect(canonicalJson({ a: { d: [2, 1] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [2, 1] } }));
  });

  it('hashes with SHA-256, short and long texts alike', async () => {
    expect(await sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const long = 'x'.repeat(10_000);
    expect(await sha256Hex(long)).toMatch(/^[0-9a-f]{64}$/);
    expect(await sha256Hex(long)).not.toBe(await sha256Hex(long + 'y'));
  });
});

describe('exact key', () => {
  it('ignores key order, stream, stream_options, user and metadata', async () => {
    const base = await exactKey(input({ temperature: 0.2, top_p: 1 }));
    expect(await exactKey(input({ top_p: 1, temperature: 0.2, stream: true, stream_options: { include_usage: true }, user: 'u', metadata: { a: 1 } }))).toBe(base);
  });

  it('changes with anything that changes the answer', async () => {
    const base = await exactKey(input({ temperature: 0.2 }));
    const variants: Array<[string, KeyInput]> = [
      ['temperature', input({ temperature: 0.3 })],
      ['seed', input({ temperature: 0.2, seed: 1 })],
      ['n', input({ temperature: 0.2, n: 2 })],
      ['stop', input({ temperature: 0.2, stop: ['\n'] })],
      ['tools', input({ temperature: 0.2, tools: [{ type: 'function', function: { name: 'f' } }] })],
      ['tool_choice', input({ temperature: 0.2, tool_choice: 'none' })],
      ['response_format', input({ temperature: 0.2, response_format: { type: 'json_object' } })],
      ['messages', input({ temperature: 0.2, messages: [{ role: 'user', content: 'What is Python!' }] })],
      ['model', input({ temperature: 0.2, model: 'gpt-4o-mini' })],
      ['provider', input({ temperature: 0.2 }, { root: target('groq') })],
      ['provider settings', input({ temperature: 0.2 }, { root: target('openai', { api_version: '2' }) })],
      ['scope', input({ temperature: 0.2 }, { identity: { user: 'alice' } })],
    ];
    const keys = await Promise.all(variants.map(([, v]) => exactKey(v)));
    keys.forEach((k, i) => expect(k, variants[i]![0]).not.toBe(base));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('scopes by gateway key, user, team and tenant unless shared', async () => {
    const scoped = (identity: KeyInput['identity'], shared = false) => exactKey(input({}, { identity, shared }));
    const keys = await Promise.all([scoped({}), scoped({ key: 'k' }), scoped({ user: 'u' }), scoped({ team: 't' }), scoped({ tenant: 'x' })]);
    expect(new Set(keys).size).toBe(5);
    expect(await scoped({ user: 'u', key: 'k' }, true)).toBe(await scoped({}, true));
    // Fields the app adds for routing do not split the cache.
    expect(await scoped({ user: 'u', plan: 'pro' })).toBe(await scoped({ user: 'u' }));
  });

  it('ignores provider credentials unless the config came from the client', async () => {
    const a = target('openai', { aws_secret_access_key: 'x' }, 'sk-a');
    const b = target('openai', { aws_secret_access_key: 'y' }, 'sk-b');
    expect(await exactKey(input({}, { root: a }))).toBe(await exactKey(input({}, { root: b })));
    expect(await exactKey(input({}, { root: a, includeApiKeys: true }))).not.toBe(await exactKey(input({}, { root: b, includeApiKeys: true })));
  });
});

describe('semantic partition', () => {
  const messages = (system: string, prompt: string) => [
    { role: 'system', content: system },
    { role: 'user', content: prompt },
  ];

  it('is the same for different last questions and differs for anything else', async () => {
    const part = (body: Record<string, unknown>, embedder = 'e1') => semanticPartition(input(body), 1, embedder);
    const base = await part({ messages: messages('You are terse.', 'What is Python?') });
    expect(await part({ messages: messages('You are terse.', 'Tell me about Python') })).toBe(base);
    expect(await part({ messages: messages('You are verbose.', 'What is Python?') })).not.toBe(base);
    expect(await part({ messages: messages('You are terse.', 'What is Python?'), temperature: 1 })).not.toBe(base);
    expect(await part({ messages: messages('You are terse.', 'What is Python?') }, 'e2')).not.toBe(base);
  });

  it('takes the text of the last user message, and none from images', () => {
    expect(lastUserText([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }])).toEqual({ index: 2, text: 'c' });
    expect(lastUserText([{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'text', text: 'y' }] }])).toEqual({ index: 0, text: 'x\ny' });
    expect(lastUserText([{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'data:' } }] }])).toBeUndefined();
    expect(lastUserText([{ role: 'user', content: '   ' }])).toBeUndefined();
    expect(lastUserText([{ role: 'system', content: 'only' }])).toBeUndefined();
  });
});
