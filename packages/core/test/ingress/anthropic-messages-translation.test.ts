/**
 * The /v1/messages body as the pipeline sees it: cache breakpoints stay on their parts for the
 * providers that read them and come off for the others, untitled documents get distinct names,
 * and typed (server or beta) tools pass validation without a `name`.
 */
import { describe, expect, it } from 'vitest';
import { toChatRequest, withoutBreakpoints } from '../../src/ingress/anthropic-messages/to-chat-request.js';
import { validateMessages } from '../../src/ingress/anthropic-messages/validate.js';
import type { AnthropicRequest } from '../../src/providers/anthropic/wire-types.js';

const PDF = { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQ=' };
const ephemeral = { type: 'ephemeral' };
const request = (rest: Record<string, unknown>) => ({ model: 'm', max_tokens: 100, ...rest }) as unknown as AnthropicRequest;

describe('cache breakpoints', () => {
  const req = request({
    system: [{ type: 'text', text: 'Stable prompt.', cache_control: ephemeral }, { type: 'text', text: 'Today.' }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'Long body', cache_control: ephemeral }, { type: 'text', text: 'Question?' }] },
      { role: 'assistant', content: 'Answer.' },
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' }, cache_control: ephemeral }, { type: 'text', text: 'And this?' }] },
    ],
  });

  it('stay on their parts, which then keep the array form', () => {
    const { body, breakpoints } = toChatRequest(req);
    expect(breakpoints).toBe(true);
    expect(body.messages[0]).toEqual({ role: 'system', content: [{ type: 'text', text: 'Stable prompt.', cache_control: ephemeral }, { type: 'text', text: 'Today.' }] });
    expect(body.messages[1]).toEqual({ role: 'user', content: [{ type: 'text', text: 'Long body', cache_control: ephemeral }, { type: 'text', text: 'Question?' }] });
    expect((body.messages[3]!.content as Array<Record<string, unknown>>)[0]).toMatchObject({ type: 'image_url', cache_control: ephemeral });
  });

  it('come off for targets that do not read them, leaving text-only content as plain text', () => {
    const { body } = toChatRequest(req);
    const stripped = withoutBreakpoints(body);
    expect(JSON.stringify(stripped)).not.toContain('cache_control');
    expect(stripped.messages[0]).toEqual({ role: 'system', content: 'Stable prompt.\n\nToday.' });
    expect(stripped.messages[1]).toEqual({ role: 'user', content: 'Long body\n\nQuestion?' });
    expect(stripped.messages[3]!.content).toEqual([{ type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }, { type: 'text', text: 'And this?' }]);
    // The pipeline's own body is left as it was, for the targets that read breakpoints.
    expect(JSON.stringify(body)).toContain('cache_control');
  });

  it('are not reported when the request has none', () => {
    const { body, breakpoints } = toChatRequest(request({ system: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }], messages: [{ role: 'user', content: 'Hi' }] }));
    expect(breakpoints).toBe(false);
    expect(body.messages[0]).toEqual({ role: 'system', content: 'A\n\nB' });
  });
});

describe('untitled documents', () => {
  it('get distinct filenames, the first one keeping the plain name', () => {
    const { body } = toChatRequest(
      request({ messages: [{ role: 'user', content: [{ type: 'document', source: PDF }, { type: 'document', source: PDF, title: 'notes.pdf' }, { type: 'document', source: PDF }] }] }),
    );
    const names = (body.messages[0]!.content as Array<{ file: { filename: string } }>).map((p) => p.file.filename);
    expect(names).toEqual(['document.pdf', 'notes.pdf', 'document-2.pdf']);
  });
});

describe('tool validation', () => {
  const validate = (tools: unknown[]) => () => validateMessages({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }], tools }, 100);

  it('lets typed tools through without a name', () => {
    expect(validate([{ type: 'mcp_toolset', mcp_server_name: 'docs' }, { type: 'web_search_20250305', name: 'web_search' }])).not.toThrow();
  });

  it('still requires a non-empty name on client tools, untyped or custom', () => {
    expect(validate([{ input_schema: { type: 'object' } }])).toThrow('tools[0].name: Field required');
    expect(validate([{ name: 'a', input_schema: {} }, { type: 'custom', input_schema: {} }])).toThrow('tools[1].name: Field required');
    expect(validate([{ name: '' }])).toThrow(/^tools\[0\]\.name: /);
  });
});
