import { describe, expect, it } from 'vitest';
import { exactKey, lastUserText, semanticPartition, type KeyInput } from '../../src/cache/cache-key.js';
import { canonicalJson, sha256Hex, sha256HexPortable } from '../../src/cache/canonical-key.js';
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
    metadata: {},
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

  it('hashes with SHA-256, with and without Node, short and long texts alike', async () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(await sha256Hex('abc')).toBe(abc);
    expect(await sha256HexPortable('abc')).toBe(abc);
    for (const text of ['x'.repeat(10_000), 'é😀'.repeat(3000), '']) expect(await sha256HexPortable(text)).toBe(await sha256Hex(text));
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

  it('includes the metadata and identity fields a conditional strategy routes on, and no others', async () => {
    const conditional: PlanNode = {
      kind: 'strategy',
      path: 'config',
      index: 0,
      mode: 'conditional',
      strategy: { mode: 'conditional', conditions: [{ query: { $or: [{ 'metadata.tier': { $eq: 'pro' } }, { 'identity.team': 'ml' }] }, then: 'big' }], default: 'small' },
      children: [target('openai'), target('groq')],
      weight: 1,
    };
    const key = (metadata: Record<string, unknown>, identity: KeyInput['identity'] = {}) =>
      exactKey(input({}, { root: conditional, metadata, identity, shared: true }));
    expect(await key({ tier: 'pro' })).not.toBe(await key({ tier: 'free' }));
    expect(await key({ tier: 'pro', trace: 'a' })).toBe(await key({ tier: 'pro', trace: 'b' }));
    expect(await key({}, { team: 'ml' })).not.toBe(await key({}, { team: 'web' }));
    // Without conditional routing, metadata never splits the cache.
    expect(await exactKey(input({}, { metadata: { tier: 'pro' } }))).toBe(await exactKey(input({}, { metadata: { tier: 'free' } })));
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

describe('key stability', () => {
  // Entries in a shared store (Redis, SQLite) outlive a deploy: an upgrade that keyed the same request
  // differently would empty every cache it reads. These digests were taken from the released keying.
  it('keys a chat and an embeddings request as earlier versions did', async () => {
    const chat = input({ temperature: 0.2, tools: [{ type: 'function', function: { name: 'f', parameters: { b: 1, a: 2 } } }] }, { identity: { user: 'u1', team: 't' } });
    const embeddings = input({ input: ['a', 'b'], encoding_format: 'float', messages: undefined, model: 'text-embedding-3-small' }, { shared: true, includeApiKeys: true });
    const forwarding = { ...openai, target: { ...(openai as { target: ResolvedTarget }).target, forwardHeaders: ['x-tenant'] } } as PlanNode;
    const routed = input({}, { root: forwarding, headers: { 'x-tenant': 'acme' } });
    expect([await exactKey(chat), await exactKey(embeddings, 'embeddings'), await exactKey(routed)]).toEqual(['5c692362856a99fd62941b12570de64d2f0a3fd8032d3cf27bde4750b4df6fd5', '0c15e323f80695b9941c16e1c3ca59eef11d336b6f783745e7bc60374bb12c9e', '3ef3ae3459be162aeb11928aafa85d00537f525a645bc7e67a2175ce2cc0b3dd']);
  });
});

describe('cache namespace', () => {
  it('separates entries by namespace, exact and semantic, and leaves keys without one as they were', async () => {
    const base = input({ temperature: 0.2 });
    const alice = { ...base, namespace: 'alice' };
    const bob = { ...base, namespace: 'bob' };
    expect(new Set([await exactKey(base), await exactKey(alice), await exactKey(bob)]).size).toBe(3);
    expect(await exactKey({ ...base, namespace: 'alice' })).toBe(await exactKey(alice));
    expect(await semanticPartition(alice, 0, 'e')).not.toBe(await semanticPartition(bob, 0, 'e'));
  });
});

describe('semantic partition stability', () => {
  // The partition names a shared store's vector index: an upgrade that moved it would orphan every vector.
  it('partitions as the released keying did', async () => {
    const forwarding = { ...openai, target: { ...(openai as { target: ResolvedTarget }).target, forwardHeaders: ['x-tenant'] } } as PlanNode;
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'What is Python?' }] }];
    const parts = [
      await semanticPartition(input({ messages, temperature: 0.2, tools: [{ type: 'function', function: { name: 'f', parameters: { b: 1, a: 2 } } }] }, { identity: { user: 'u1', team: 't', key: 'k', tenant: 9 as never } }), 1, 'text-embedding-3-small'),
      await semanticPartition(input({ messages, stop: ['\n'] }, { shared: true, namespace: 'ns', includeApiKeys: true }), 1, 'e2'),
      await semanticPartition(input({ messages }, { root: forwarding, headers: { 'x-tenant': 'acme' } }), 1, 'e3'),
    ];
    // Digests taken from the released keying (13e212e).
    expect(parts).toEqual([
      '80daf45d858e827b7885c3ef2436771b401f4bceb906354abf349d80205565a4',
      'ed8f2e4d1d6f75ba35ada0b7569d33f7297e66dac2c2617bc31849a8a9b45875',
      'abbdf484a87b58532cd9e053aac1702c26108141669178bb756e7acec3aead8a',
    ]);
  });
});

describe('canonical text written without intermediate objects', () => {
  // The released canonical form, kept here as the reference the faster writer must match byte for byte.
  function reference(value: unknown): string {
    if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
    if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : reference(v))).join(',')}]`;
    const members = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined && typeof (value as Record<string, unknown>)[k] !== 'function')
      .map((k) => `${JSON.stringify(k)}:${reference((value as Record<string, unknown>)[k])}`);
    return `{${members.join(',')}}`;
  }

  it('writes every kind of JSON value as the released form did', () => {
    const odd = ['', 'é', '\u2028', '\ud800', 'a"b\\c\n', '\u0000', '🙂'];
    const numbers = [0, -0, 1.5, -2, 1e21, 1e-7, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity];
    const values: unknown[] = [
      ...odd,
      ...numbers,
      true,
      false,
      null,
      undefined,
      [undefined, () => 1, null, [odd], { b: 1, a: [numbers] }],
      { z: undefined, y: () => 1, x: { '\u00e9': 1, e: 2, E: 3, '': 4, '10': 5, '9': 6 }, w: new Date(0), [odd[3]!]: odd },
    ];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });

  it('keys params, scope and namespace as the released keying did', async () => {
    const body = { stop: ['\n'], temperature: 0, tools: [{ type: 'function', function: { name: 'f', strict: true, parameters: {} } }], seed: -0, n: 1, logit_bias: { '50256': -100 } };
    const identity = { user: 'u "1"', team: 7, tenant: 'acme', key: 'gk_1', extra: 'ignored' } as unknown as KeyInput['identity'];
    const keys = [
      await exactKey(input(body, { identity, namespace: 'ns' })),
      await exactKey(input({ ...body, user: 'end-user', stream: false }, { identity: { tenant: 'acme' } })),
      await exactKey(input(body, { identity, shared: true })),
    ];
    // Digests taken from the keying before the writer changed.
    expect(keys).toEqual([
      '904b3a5562f636e5d2761d2d1f7e3c51827e51b0d32bd4a9c9811f484098b7e9',
      '51c9efa0e9b11a4dac8760e00207988cb8bc9d4ec652fd45ddae36a098f573e1',
      'b5198e938c0972524c6ff9b62fa59b25d6fb99cb7b9b04e80ac54ec87bfa2f39',
    ]);
  });
});
