import { describe, expect, it } from 'vitest';
import { openAICompatiblePresets } from '../../src/providers/openai-compatible/presets.js';
import type { ChatRequest } from '../../src/providers/openai-types.js';
import type { CallContext, ResolvedTarget } from '../../src/providers/types.js';

const mistral = openAICompatiblePresets.find((p) => p.id === 'mistral')!;

function sent(body: Partial<ChatRequest>, overrideParams: Record<string, unknown> = {}): Record<string, unknown> {
  const target: ResolvedTarget = { path: 'config', index: 0, provider: 'mistral', baseURL: 'http://127.0.0.1:1/v1', apiKey: 'k', overrideParams, forwardHeaders: [], weight: 1, extra: {} };
  const ctx: CallContext = { target, model: 'mistral-small-latest', stream: false, headers: {} };
  const req = mistral.chat.request({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'hi' }], ...body } as ChatRequest, ctx);
  if (req instanceof Promise) throw new Error('the mistral request is built synchronously');
  return JSON.parse(req.body as string) as Record<string, unknown>;
}

describe('mistral output limits', () => {
  it('sends max_completion_tokens as max_tokens, winning over max_tokens as with every other provider', () => {
    expect(sent({ max_completion_tokens: 1, max_tokens: 5 })).toMatchObject({ max_tokens: 1 });
    expect(sent({ max_completion_tokens: 5, max_tokens: 1 })).toMatchObject({ max_tokens: 5 });
    expect(sent({ max_completion_tokens: 64 })).toMatchObject({ max_tokens: 64 });
    expect(sent({ max_completion_tokens: null, max_tokens: 5 })).toMatchObject({ max_tokens: 5 });
    expect(sent({ max_completion_tokens: 1, max_tokens: 5 })).not.toHaveProperty('max_completion_tokens');
  });

  it("applies a target's override_params before renaming", () => {
    expect(sent({ max_tokens: 1 }, { max_completion_tokens: 9 })).toMatchObject({ max_tokens: 9 });
    expect(sent({ max_tokens: 1 }, { max_tokens: 5 })).toMatchObject({ max_tokens: 5 });
  });
});
