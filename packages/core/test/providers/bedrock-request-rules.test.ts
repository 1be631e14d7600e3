/**
 * Converse rules the translation must keep whatever the OpenAI body says: tool blocks need a
 * `toolConfig`, no blank text blocks, unique document names, a user turn first, and a target's
 * output cap winning over the client's (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
 */
import { describe, expect, it } from 'vitest';
import { toConverseRequest } from '../../src/providers/bedrock/request.js';
import { toAnthropicInvokeBody } from '../../src/providers/bedrock/invoke-anthropic.js';
import type { ChatMessage, ChatRequest } from '../../src/providers/openai-types.js';
import type { CallContext } from '../../src/providers/types.js';

const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

function ctx(overrideParams: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): CallContext {
  return {
    target: { path: 'config.targets[0]', index: 0, provider: 'bedrock', baseURL: 'http://127.0.0.1', overrideParams, forwardHeaders: [], weight: 1, extra },
    model: MODEL,
    stream: false,
    headers: {},
  };
}

const converse = (messages: ChatMessage[], rest: Partial<ChatRequest> = {}, overrides: Record<string, unknown> = {}) =>
  toConverseRequest({ model: MODEL, messages, ...rest }, ctx(overrides));

const pdf = (filename?: string) => ({
  type: 'file',
  file: { ...(filename === undefined ? {} : { filename }), file_data: 'data:application/pdf;base64,JVBERi0xLjQ=' },
});
const documentNames = (req: ReturnType<typeof converse>) =>
  req.messages.flatMap((m) => m.content).flatMap((b) => ('document' in b ? [b.document.name] : []));

const call = (id: string, name: string) => ({ id, type: 'function' as const, function: { name, arguments: '{}' } });

describe('toolConfig for a history with tool blocks', () => {
  it('declares each tool the history called, once, with any input, when the request has no tools', () => {
    const out = converse([
      { role: 'user', content: 'Weather and time?' },
      { role: 'assistant', content: null, tool_calls: [call('c1', 'get_weather'), call('c2', 'get_time'), call('c3', 'get_weather')] },
      { role: 'tool', tool_call_id: 'c1', content: 'Sunny' },
      { role: 'tool', tool_call_id: 'c2', content: 'Noon' },
      { role: 'tool', tool_call_id: 'c3', content: 'Rain' },
    ]);
    expect(out.toolConfig?.tools.map((t) => t.toolSpec.name)).toEqual(['get_weather', 'get_time']);
    expect(out.toolConfig?.tools[0]!.toolSpec.inputSchema).toEqual({ json: { type: 'object', properties: {} } });
    expect(out.toolConfig?.toolChoice).toBeUndefined();
  });

  it('declares one placeholder when only results are left (their calls were trimmed)', () => {
    const out = converse([{ role: 'user', content: 'Go on' }, { role: 'tool', tool_call_id: 'c1', content: 'done' }]);
    expect(out.toolConfig?.tools).toHaveLength(1);
    expect(out.toolConfig?.tools[0]!.toolSpec.name).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
  });

  it('sends no toolConfig for a conversation without tools', () => {
    expect(converse([{ role: 'user', content: 'Hi' }]).toolConfig).toBeUndefined();
  });

  it('keeps the client tools as they are when it sends some', () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    const out = converse([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: null, tool_calls: [call('c1', 'get_weather')] }, { role: 'tool', tool_call_id: 'c1', content: 'x' }], { tools });
    expect(out.toolConfig?.tools.map((t) => t.toolSpec.name)).toEqual(['lookup']);
  });
});

describe('tool results', () => {
  const history: ChatMessage[] = [{ role: 'user', content: 'Run it' }, { role: 'assistant', content: null, tool_calls: [call('c1', 'run')] }];
  const resultOf = (m: ChatMessage) => {
    const block = converse([...history, m]).messages[2]!.content[0]!;
    if (!('toolResult' in block)) throw new Error('no toolResult');
    return block.toolResult;
  };

  it('puts a non-blank placeholder for an empty answer, and leaves out empty parts', () => {
    for (const content of ['', [], [{ type: 'text', text: '' }]] as ChatMessage['content'][]) {
      const { content: blocks } = resultOf({ role: 'tool', tool_call_id: 'c1', content });
      expect(blocks).toHaveLength(1);
      expect((blocks[0] as { text: string }).text.trim()).not.toBe('');
    }
    const mixed = resultOf({ role: 'tool', tool_call_id: 'c1', content: [{ type: 'text', text: '' }, { type: 'text', text: 'ok' }] });
    expect(mixed.content).toEqual([{ text: 'ok' }]);
  });

  it('reports is_error as status "error", anything else as "success"', () => {
    expect(resultOf({ role: 'tool', tool_call_id: 'c1', content: 'boom', is_error: true }).status).toBe('error');
    expect(resultOf({ role: 'tool', tool_call_id: 'c1', content: 'fine' }).status).toBe('success');
  });
});

describe('document names', () => {
  it('gives every document of the request its own name, across turns and extensions', () => {
    const out = converse([
      { role: 'user', content: [pdf('report.pdf'), { type: 'text', text: 'one' }] },
      { role: 'assistant', content: 'Read.' },
      { role: 'user', content: [pdf('report.pdf'), pdf('report.docx'), pdf(), pdf(), { type: 'text', text: 'compare' }] },
    ]);
    expect(documentNames(out)).toEqual(['report', 'report (2)', 'report (3)', 'document-4', 'document-5']);
  });

  it('keeps names within Bedrock characters and 200 characters, suffix included', () => {
    const long = `${'a'.repeat(250)}.pdf`;
    const names = documentNames(converse([{ role: 'user', content: [pdf(long), pdf(long), pdf('Q3: sales *final*  v2.pdf'), { type: 'text', text: 'x' }] }]));
    expect(names[0]).toBe('a'.repeat(200));
    expect(names[1]).toBe(`${'a'.repeat(196)} (2)`);
    expect(names[2]).toBe('Q3- sales -final- v2');
    for (const name of names) expect(name).toMatch(/^(?:[A-Za-z0-9\-()[\]]| (?! )){1,200}$/);
  });
});

describe('the first turn', () => {
  it('puts a user turn before a conversation that opens with the assistant', () => {
    const out = converse([{ role: 'system', content: 'Be kind.' }, { role: 'assistant', content: 'Hello!' }, { role: 'user', content: 'Hi' }]);
    expect(out.system).toEqual([{ text: 'Be kind.' }]);
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect((out.messages[0]!.content[0] as { text: string }).text.trim()).not.toBe('');
    expect(out.messages[1]!.content).toEqual([{ text: 'Hello!' }]);
  });

  it('leaves a conversation that opens with the user as it is', () => {
    expect(converse([{ role: 'user', content: 'Hi' }]).messages).toEqual([{ role: 'user', content: [{ text: 'Hi' }] }]);
  });
});

describe("a target's output cap", () => {
  it('wins over either limit the client sends (Converse and InvokeModel)', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
    expect(converse(messages, { max_completion_tokens: 4000 }, { max_tokens: 256 }).inferenceConfig?.maxTokens).toBe(256);
    expect(converse(messages, { max_tokens: 4000 }, { max_completion_tokens: 256 }).inferenceConfig?.maxTokens).toBe(256);
    expect(converse(messages, { max_completion_tokens: 100 }, { temperature: 0 }).inferenceConfig?.maxTokens).toBe(100);
    const invoke = JSON.parse(toAnthropicInvokeBody({ model: MODEL, messages, max_completion_tokens: 4000 }, ctx({ max_tokens: 256 }, { bedrock_api: 'invoke' })));
    expect(invoke.max_tokens).toBe(256);
  });
});
