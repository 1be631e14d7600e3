import { describe, expect, it } from 'vitest';
import { rememberJsonText } from '../../src/http/json-text.js';
import { GatewayError } from '../../src/errors.js';
import { normalizeCompletion } from '../../src/providers/openai-compatible/normalize-completion.js';
import { createChunkNormalizer } from '../../src/providers/openai-compatible/normalize-chunk.js';
import { openAICompatiblePresets } from '../../src/providers/openai-compatible/presets.js';
import { createPassthroughTranslator, throwErrorBody } from '../../src/providers/openai-compatible/translate.js';
import type { ChatCompletionChunk, ChatMessage, ChatRequest } from '../../src/providers/openai-types.js';
import type { CallContext, ResolvedTarget } from '../../src/providers/types.js';

function ctxFor(provider: string, baseURL = 'http://127.0.0.1:1/v1', extra: Record<string, unknown> = {}): CallContext {
  const target: ResolvedTarget = { path: 'config', index: 0, provider, baseURL, apiKey: 'k', overrideParams: {}, forwardHeaders: [], weight: 1, extra };
  return { target, model: 'm', stream: false, headers: {} };
}

function request(provider: string, messages: ChatMessage[], ctx = ctxFor(provider)): { url: string; body: Record<string, any> } {
  const preset = openAICompatiblePresets.find((p) => p.id === provider)!;
  const req = preset.chat.request({ model: 'm', messages } as ChatRequest, ctx);
  if (req instanceof Promise) throw new Error(`the ${provider} request is built synchronously`);
  return { url: req.url, body: JSON.parse(req.body as string) };
}

describe('mistral message order', () => {
  it('a last assistant turn (a prefill) goes out with prefix: true; earlier ones and tool-call turns without', () => {
    const prefill = request('mistral', [{ role: 'user', content: 'JSON?' }, { role: 'assistant', content: '{' }]).body.messages;
    expect(prefill.at(-1)).toEqual({ role: 'assistant', content: '{', prefix: true });
    const history = request('mistral', [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }]).body.messages;
    expect(history[1]).not.toHaveProperty('prefix');
    const call = { id: 'gSIMJiOkT', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const pending = request('mistral', [{ role: 'user', content: 'a' }, { role: 'assistant', content: null, tool_calls: [call] }]).body.messages;
    expect(pending.at(-1)).not.toHaveProperty('prefix');
  });

  it('an assistant turn goes between tool results and a user turn; the client’s list stays as it came', () => {
    const call = { id: 'gSIMJiOkT', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const messages: ChatMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'gSIMJiOkT', content: 'sunny' },
      { role: 'user', content: 'and tomorrow?' },
    ];
    const sent = request('mistral', messages).body.messages as ChatMessage[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user']);
    expect(sent[3]!.content).toBeTruthy();
    expect(messages).toHaveLength(4);
  });
});

describe('groq and deepseek histories', () => {
  it('groq: assistant turns lose the reasoning_content and thinking_blocks the gateway handed out, on copies', () => {
    const assistant: ChatMessage = { role: 'assistant', content: 'hi', reasoning_content: 'thought', thinking_blocks: [{ type: 'thinking', thinking: 't', signature: 's' }] };
    const messages: ChatMessage[] = [{ role: 'user', content: 'a' }, assistant, { role: 'user', content: 'b' }];
    expect(request('groq', messages).body.messages).toEqual([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'hi' }, { role: 'user', content: 'b' }]);
    expect(assistant.reasoning_content).toBe('thought');
  });

  it('deepseek: developer becomes system; its reasoning_content is kept (its reasoner reads it back)', () => {
    const messages: ChatMessage[] = [{ role: 'developer', content: 'Be brief' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b', reasoning_content: 'r' }];
    expect(request('deepseek', messages).body.messages).toEqual([{ role: 'system', content: 'Be brief' }, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b', reasoning_content: 'r' }]);
    expect(messages[0]!.role).toBe('developer');
  });
});

describe('azure-openai base URLs', () => {
  it('a custom_host ending in /openai gets the deployment path once', () => {
    const ctx = ctxFor('azure-openai', 'https://res.openai.azure.com/openai', { deployment_id: 'dep' });
    expect(request('azure-openai', [{ role: 'user', content: 'a' }], ctx).url).toBe('https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-10-21');
    const plain = ctxFor('azure-openai', 'https://gw.example/azure', { deployment_id: 'dep' });
    expect(request('azure-openai', [{ role: 'user', content: 'a' }], plain).url).toBe('https://gw.example/azure/openai/deployments/dep/chat/completions?api-version=2024-10-21');
  });
});

const chunk = (delta: Record<string, unknown>, finish: string | null, usage?: Record<string, number>) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) });

describe('dialect finish reasons', () => {
  it('model_length becomes length, non-stream and stream; other reasons (and prototype names) are left alone', () => {
    const completion = { choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'model_length' }, { index: 1, message: { role: 'assistant', content: 'y' }, finish_reason: 'constructor' }] };
    expect(normalizeCompletion(completion)).toBe(true);
    expect(completion.choices.map((c) => c.finish_reason)).toEqual(['length', 'constructor']);
    const c = JSON.parse(chunk({}, 'model_length')) as ChatCompletionChunk;
    expect(createChunkNormalizer()(c)).toBe(true);
    expect(c.choices[0]!.finish_reason).toBe('length');
  });

  it('a non-stream choice that finished with "error" is a provider_error, with OpenRouter’s choice error message when given', () => {
    const failed = (choice: Record<string, unknown>) => {
      try {
        throwErrorBody({ choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'error', ...choice }] }, ctxFor('mistral'));
      } catch (e) {
        return e as GatewayError;
      }
      throw new Error('no error thrown');
    };
    expect(failed({})).toMatchObject({ code: 'provider_error', status: 502, provider: 'mistral' });
    expect(failed({ error: { code: 502, message: 'upstream died' } }).message).toBe('upstream died');
    expect(() => throwErrorBody({ choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }] }, ctxFor('mistral'))).not.toThrow();
  });

  it('a stream choice that finishes with "error": before content it throws at once; after, its usage goes out, then the error', () => {
    const early = createPassthroughTranslator('mistral');
    expect(() => early.push({ data: chunk({ content: '' }, 'error', { prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 }) })).toThrow(GatewayError);

    const late = createPassthroughTranslator('mistral');
    late.push({ data: chunk({ content: 'Hello' }, null) });
    const out = late.push({ data: chunk({ content: '' }, 'error', { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }) });
    expect(out.map((o) => o.chunk)).toEqual([expect.objectContaining({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })]);
    expect(() => late.push({ data: '[DONE]' })).toThrow(/finish_reason "error"/);

    const noUsage = createPassthroughTranslator('mistral');
    noUsage.push({ data: chunk({ content: 'Hello' }, null) });
    expect(() => noUsage.push({ data: chunk({}, 'error') })).toThrow(GatewayError);
  });
});

describe('Groq and DeepSeek keep the client text when their adapt step changes nothing', () => {
  const sent = (provider: string, body: ChatRequest, text: string) => {
    rememberJsonText(body, text);
    const preset = openAICompatiblePresets.find((p) => p.id === provider)!;
    return preset.chat.request(body, { ...ctxFor(provider), model: body.model }) as { body: string };
  };

  it('a body with nothing to adapt goes out byte for byte; one with something to adapt is rewritten', () => {
    const plain = '{"model":"m",  "messages":[{"role":"user","content":"hi"}]}';
    expect(sent('groq', JSON.parse(plain), plain).body).toBe(plain);
    expect(sent('deepseek', JSON.parse(plain), plain).body).toBe(plain);
    const echoed = '{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo","reasoning_content":"r"},{"role":"user","content":"and?"}]}';
    expect(JSON.parse(sent('groq', JSON.parse(echoed), echoed).body).messages[1]).toEqual({ role: 'assistant', content: 'yo' });
    const developer = '{"model":"m","messages":[{"role":"developer","content":"be terse"},{"role":"user","content":"hi"}]}';
    expect(JSON.parse(sent('deepseek', JSON.parse(developer), developer).body).messages[0].role).toBe('system');
  });
});
