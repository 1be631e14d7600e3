/**
 * The /v1/messages body as translated targets see it: `output_config.format` goes strict only when
 * OpenAI's strict mode takes the schema, and adaptive thinking follows the client's effort.
 */
import { describe, expect, it } from 'vitest';
import { toChatRequest } from '../../src/ingress/anthropic-messages/to-chat-request.js';
import type { AnthropicRequest } from '../../src/providers/anthropic/wire-types.js';

const request = (rest: Record<string, unknown>) =>
  ({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'x' }], ...rest }) as unknown as AnthropicRequest;
const strictOf = (schema: unknown) => {
  const format = toChatRequest(request({ output_config: { format: { type: 'json_schema', schema } } })).body.response_format;
  return (format as { json_schema: { strict?: boolean } }).json_schema.strict;
};
const closed = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
  ...extra,
});

describe('output_config.format strictness', () => {
  it('is strict when every object requires all its properties and is closed', () => {
    expect(strictOf(closed({ city: { type: 'string' }, tags: { type: 'array', items: closed({ k: { type: 'string' } }) } }))).toBe(true);
  });

  it('is not strict with an optional property, at the top or nested', () => {
    expect(strictOf({ ...closed({ city: { type: 'string' }, nick: { type: 'string' } }), required: ['city'] })).toBe(false);
    expect(strictOf(closed({ inner: { ...closed({ a: { type: 'string' } }), required: [] } }))).toBe(false);
  });

  it('is not strict with an object left open, in items, anyOf or $defs', () => {
    const open = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    expect(strictOf(open)).toBe(false);
    expect(strictOf(closed({ list: { type: 'array', items: open } }))).toBe(false);
    expect(strictOf(closed({ either: { anyOf: [{ type: 'string' }, open] } }))).toBe(false);
    expect(strictOf(closed({ node: { $ref: '#/$defs/Node' } }, { $defs: { Node: open } }))).toBe(false);
    expect(strictOf(closed({ node: { $ref: '#/$defs/Node' } }, { $defs: { Node: closed({ a: { type: 'string' } }) } }))).toBe(true);
  });

  it('reads a property named like a keyword as a property, not a schema', () => {
    expect(strictOf(closed({ properties: { type: 'string' }, type: { type: 'string' } }))).toBe(true);
  });
});

describe('adaptive thinking', () => {
  it('takes the effort of output_config, and medium without one', () => {
    const effort = (rest: Record<string, unknown>) => toChatRequest(request(rest)).body.reasoning_effort;
    expect(effort({ thinking: { type: 'adaptive' }, output_config: { effort: 'low' } })).toBe('low');
    expect(effort({ thinking: { type: 'adaptive' }, output_config: { effort: 'max' } })).toBe('high');
    expect(effort({ thinking: { type: 'adaptive' } })).toBe('medium');
    expect(effort({ thinking: { type: 'enabled', budget_tokens: 1024 }, output_config: { effort: 'high' } })).toBe('low');
  });
});
