/** Values Anthropic accepts in one spelling only, and a target's output cap over the client's limit. */
import { describe, expect, it } from 'vitest';
import { translateRequest } from '../../src/providers/anthropic/translate-request.js';
import { withOverrides } from '../../src/providers/with-overrides.js';
import type { ChatRequest } from '../../src/providers/openai-types.js';

const opts = { stream: false, model: 'claude-sonnet-4-5', structuredOutput: 'native' as const };

describe('image media types', () => {
  it('are sent as Anthropic names them: lower case, image/jpg as image/jpeg', () => {
    // ImageBlockParam.source.media_type: image/jpeg | image/png | image/gif | image/webp.
    const types = ['image/jpg', 'IMAGE/JPEG', 'image/PNG', 'image/webp'].map((type) => {
      const body: ChatRequest = { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:${type};base64,AAAA` } }] }] };
      const block = translateRequest(body, opts).request.messages[0]!.content[0] as { source: { media_type: string } };
      return block.source.media_type;
    });
    expect(types).toEqual(['image/jpeg', 'image/jpeg', 'image/png', 'image/webp']);
  });
});

describe('withOverrides', () => {
  const body: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_completion_tokens: 4000, temperature: 1 };

  it("lets a target's max_tokens replace the client's max_completion_tokens", () => {
    const merged = withOverrides(body, { max_tokens: 256 });
    expect(merged).toEqual({ model: 'm', messages: body.messages, max_tokens: 256, temperature: 1 });
    expect(translateRequest(merged, opts).request.max_tokens).toBe(256);
  });

  it('keeps the client limit when the target sets none, and the body object when it sets nothing', () => {
    expect(translateRequest(withOverrides(body, { temperature: 0 }), opts).request.max_tokens).toBe(4000);
    expect(withOverrides(body, {})).toBe(body);
  });
});
