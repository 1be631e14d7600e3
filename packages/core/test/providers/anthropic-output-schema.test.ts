import { describe, expect, it } from 'vitest';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { toAnthropicOutputSchema } from '../../src/providers/anthropic/output-schema.js';
import { anthropicGateway } from './anthropic-setup.js';

describe("JSON schema → Anthropic's structured-output subset", () => {
  it('moves bounds into the description, keeping what the subset takes', () => {
    const schema = {
      type: 'object',
      properties: {
        age: { type: 'integer', description: 'Years', minimum: 0, maximum: 150 },
        name: { type: 'string', minLength: 1, maxLength: 80, pattern: '^[A-Z]', format: 'email' },
        tags: { type: 'array', items: { type: 'string', format: 'uri-reference' }, minItems: 1, maxItems: 5, uniqueItems: true },
        pair: { type: 'array', items: { type: 'number', multipleOf: 0.5 }, minItems: 2 },
      },
      required: ['age', 'name', 'tags', 'pair'],
      additionalProperties: false,
    };
    const before = structuredClone(schema);
    expect(toAnthropicOutputSchema(schema)).toEqual({
      type: 'object',
      properties: {
        age: { type: 'integer', description: 'Years\n\n{minimum: 0, maximum: 150}' },
        name: { type: 'string', pattern: '^[A-Z]', format: 'email', description: '{minLength: 1, maxLength: 80}' },
        tags: { type: 'array', items: { type: 'string', description: '{format: "uri-reference"}' }, minItems: 1, description: '{maxItems: 5, uniqueItems: true}' },
        pair: { type: 'array', items: { type: 'number', description: '{multipleOf: 0.5}' }, description: '{minItems: 2}' },
      },
      required: ['age', 'name', 'tags', 'pair'],
      additionalProperties: false,
    });
    expect(schema).toEqual(before);
  });

  it('closes every object that does not say additionalProperties: false (Anthropic refuses it left out)', () => {
    const out = toAnthropicOutputSchema({
      type: 'object',
      properties: { address: { type: 'object', properties: { city: { type: 'string' } } }, maybe: { type: ['object', 'null'], properties: {} } },
    });
    expect(out).toEqual({
      type: 'object',
      properties: {
        address: { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false },
        maybe: { type: ['object', 'null'], properties: {}, additionalProperties: false },
      },
      additionalProperties: false,
    });
  });

  it('reaches $defs, anyOf and allOf, turns oneOf into anyOf and closes open objects', () => {
    const out = toAnthropicOutputSchema({
      $defs: { Score: { type: 'number', exclusiveMinimum: 0 } },
      type: 'object',
      properties: {
        score: { $ref: '#/$defs/Score' },
        either: { oneOf: [{ type: 'string', maxLength: 3 }, { type: 'null' }] },
        both: { allOf: [{ type: 'object', properties: { n: { type: 'integer', maximum: 9 } }, additionalProperties: false }] },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
      additionalProperties: false,
    });
    expect(out).toEqual({
      $defs: { Score: { type: 'number', description: '{exclusiveMinimum: 0}' } },
      type: 'object',
      properties: {
        score: { $ref: '#/$defs/Score' },
        either: { anyOf: [{ type: 'string', description: '{maxLength: 3}' }, { type: 'null' }] },
        both: { allOf: [{ type: 'object', properties: { n: { type: 'integer', description: '{maximum: 9}' } }, additionalProperties: false }] },
        labels: { type: 'object', additionalProperties: false, description: '{additionalProperties: {"type":"string"}}' },
      },
      additionalProperties: false,
    });
  });

  it('leaves enum and const values alone, even when they look like schemas', () => {
    const schema = { type: 'object', properties: { v: { const: { minimum: 1 } }, e: { enum: [{ maxLength: 2 }] } }, additionalProperties: false };
    expect(toAnthropicOutputSchema(schema)).toEqual(schema);
  });
});

describe('strict function tools to Anthropic', () => {
  const gw = anthropicGateway();
  const params = { type: 'object', properties: { days: { type: 'integer', minimum: 1, maximum: 7 } }, required: ['days'], additionalProperties: false };

  it('keep strict: true with the schema reduced to the subset; other tools keep their schema as written', async () => {
    gw.upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    await gw.client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [
        { type: 'function', function: { name: 'forecast', parameters: params, strict: true } },
        { type: 'function', function: { name: 'loose', parameters: params, strict: false } },
      ],
    });
    const [strict, loose] = gw.upstream.requests[0]!.json.tools;
    expect(strict).toEqual({ name: 'forecast', strict: true, input_schema: { ...params, properties: { days: { type: 'integer', description: '{minimum: 1, maximum: 7}' } } } });
    expect(loose).toEqual({ name: 'loose', input_schema: params });
  });
});

describe('strict function tools to an Anthropic model without structured output', () => {
  const gw = anthropicGateway({ structured_output: 'tool' });

  it('drop strict and keep the schema as written', async () => {
    gw.upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    const params = { type: 'object', properties: { days: { type: 'integer', minimum: 1 } } };
    await gw.client.chat.completions.create({
      model: 'claude-3-haiku-20240307',
      messages: [{ role: 'user', content: 'Hi' }],
      tools: [{ type: 'function', function: { name: 'forecast', parameters: params, strict: true } }],
    });
    expect(gw.upstream.requests[0]!.json.tools).toEqual([{ name: 'forecast', input_schema: params }]);
  });
});
