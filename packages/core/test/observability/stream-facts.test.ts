import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { genAiOperation } from '../../src/observability/genai-names.js';
import { redactDeep } from '../../src/observability/redact-record.js';
import { failAnsweredAttempt, idInText, noteChunkFacts } from '../../src/observability/stream-facts.js';
import type { RequestState } from '../../src/pipeline/state.js';
import type { ChatCompletionChunk } from '../../src/providers/openai-types.js';

const stateWith = (fields: Partial<RequestState>) => ({ attempts: [], ...fields }) as unknown as RequestState;
const chunk = (fields: Partial<ChatCompletionChunk>) => ({ id: 'c-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], ...fields }) as ChatCompletionChunk;

describe('the id of a plain delta, from its text', () => {
  it('reads the chunk id without parsing', () => {
    expect(idInText('{"id":"chatcmpl-abc","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}')).toBe('chatcmpl-abc');
  });

  it('an id quoted inside content is escaped, so only the chunk key matches', () => {
    expect(idInText('{"object":"chat.completion.chunk","choices":[{"delta":{"content":"\\"id\\":\\"fake\\""}}],"id":"real"}')).toBe('real');
  });

  it('leaves ids it cannot read plainly to a parsed chunk', () => {
    expect(idInText(undefined)).toBeUndefined();
    expect(idInText('{"object":"chat.completion.chunk"}')).toBeUndefined();
    expect(idInText('{"id":"a\\u0041b"}')).toBeUndefined();
    expect(idInText(`{"id":"${'x'.repeat(300)}"}`)).toBeUndefined();
  });
});

describe('facts a parsed chunk leaves on the state', () => {
  it('keeps the first id, and one finish reason per choice in index order', () => {
    const state = stateWith({});
    noteChunkFacts(state, chunk({ id: 'first', choices: [{ index: 1, delta: {}, finish_reason: 'length' }] }));
    noteChunkFacts(state, chunk({ id: 'second', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
    expect(state.streamId).toBe('first');
    expect(state.streamFinishReasons).toEqual(['stop', 'length']);
  });

  it('an upstream choice index does not size an array', () => {
    const state = stateWith({});
    noteChunkFacts(state, chunk({ choices: [{ index: 1e9, delta: {}, finish_reason: 'stop' }, { index: -1, delta: {}, finish_reason: 'stop' }] }));
    noteChunkFacts(state, chunk({ choices: undefined as never }));
    expect(state.streamFinishReasons).toBeUndefined();
  });
});

describe('the attempt whose stream broke', () => {
  const target = { path: 'config.targets[0]' } as RequestState['target'];

  it('becomes a failed attempt with the cut status and a capped message', () => {
    const state = stateWith({ target, attempts: [{ target: 'config.targets[0]', provider: 'openai', status: 200, latency_ms: 5 }] });
    const answered = state.attempts[0];
    failAnsweredAttempt(state, new GatewayError('stream_interrupted', `reset ${'x'.repeat(400)}`), 502);
    expect(state.attempts[0]).toMatchObject({ target: 'config.targets[0]', provider: 'openai', status: 502, latency_ms: 5 });
    expect(state.attempts[0]!.error!.length).toBe(300);
    // The router's summary object is replaced, not changed.
    expect(answered).toMatchObject({ status: 200 });
  });

  it('leaves a stream with no attempt (a cache hit) and an already failed attempt alone', () => {
    const none = stateWith({});
    failAnsweredAttempt(none, new GatewayError('stream_interrupted', 'reset'), 502);
    expect(none.attempts).toEqual([]);
    const failed = { target: 'config.targets[0]', provider: 'openai', status: 503, error: 'down' };
    const state = stateWith({ target, attempts: [failed] });
    failAnsweredAttempt(state, new GatewayError('stream_interrupted', 'reset'), 502);
    expect(state.attempts[0]).toBe(failed);
  });
});

describe('gen_ai.operation.name', () => {
  it('only for routes that call a model', () => {
    expect(['chat', 'messages', 'embeddings'].map(genAiOperation)).toEqual(['chat', 'chat', 'embeddings']);
    for (const route of ['unknown', 'metrics', 'usage', 'models', 'model', 'playground']) expect(genAiOperation(route)).toBeUndefined();
  });
});

describe('credential-named fields', () => {
  it('any *_token and any prefixed api key are dropped whole; counts and look-alikes are kept', () => {
    const input = {
      aws_session_token: 'a',
      github_access_token: 'b',
      'x-amz-security-token': 'c',
      token: 'd',
      hf_token: 'e',
      sessionToken: 'f',
      openai_api_key: 'g',
      anthropic_api_key: 'h',
      'x-goog-api-key': 'i',
      apiKey: 'j',
      max_tokens: 10,
      token_count: 3,
      api_key_name: 'kept',
      monkey: 'kept',
    };
    expect(redactDeep(input, [])).toEqual({
      ...Object.fromEntries(Object.keys(input).map((k) => [k, '[REDACTED]'])),
      max_tokens: 10,
      token_count: 3,
      api_key_name: 'kept',
      monkey: 'kept',
    });
  });

  it('a megabyte-long field name of many words is judged in linear time', () => {
    const names = [`${'ab_'.repeat(400_000)}x`, `${'a'.repeat(1_000_000)}_`, `${'api_'.repeat(250_000)}kez`, `${'-'.repeat(1_000_000)}tokens`];
    const started = performance.now();
    for (const name of names) expect(redactDeep({ [name]: 'v' }, [])).toEqual({ [name]: 'v' });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
