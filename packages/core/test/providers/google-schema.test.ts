import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayError } from '../../src/errors.js';
import { toGeminiParameters, toGeminiSchema } from '../../src/providers/google/schema.js';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { googleGateway, recording } from './google-setup.js';

/** Keywords Gemini's OpenAPI-subset Schema does not know; any of them anywhere is a 400 upstream. */
const REJECTED = ['$schema', '$ref', '$defs', 'definitions', 'additionalProperties', 'default', 'examples', 'const', 'oneOf', 'allOf', 'not', 'propertyNames', 'exclusiveMinimum', 'patternProperties'];

function rejectedKeys(node: unknown, path = '$'): string[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => rejectedKeys(n, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(node)) {
    // Inside `properties`, keys are field names, not keywords.
    if (k === 'properties' && typeof v === 'object' && v) {
      for (const [name, sub] of Object.entries(v)) out.push(...rejectedKeys(sub, `${path}.properties.${name}`));
      continue;
    }
    if (REJECTED.includes(k)) out.push(`${path}.${k}`);
    if (k === 'type' && Array.isArray(v)) out.push(`${path}.type[]`);
    out.push(...rejectedKeys(v, `${path}.${k}`));
  }
  return out;
}

const convert = (schema: unknown) => toGeminiSchema(schema, { path: 'schema' });

describe('JSON schema → Gemini schema', () => {
  it('inlines nested $ref/$defs (Pydantic style, with allOf and a description beside the $ref)', () => {
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: {
        Address: { type: 'object', properties: { city: { type: 'string' }, geo: { $ref: '#/$defs/Geo' } }, required: ['city'], additionalProperties: false },
        Geo: { type: 'object', properties: { lat: { type: 'number' }, lng: { type: 'number' } }, required: ['lat', 'lng'] },
      },
      type: 'object',
      properties: {
        home: { allOf: [{ $ref: '#/$defs/Address' }], description: 'Where they live' },
        work: { $ref: '#/$defs/Address', description: 'Office' },
        old: { anyOf: [{ $ref: '#/definitions/Legacy' }, { type: 'null' }], default: null },
      },
      definitions: { Legacy: { type: 'string', examples: ['x'] } },
      required: ['home', 'missing'],
      additionalProperties: false,
    };
    const address = (description: string) => ({
      type: 'object',
      description,
      properties: { city: { type: 'string' }, geo: { type: 'object', properties: { lat: { type: 'number' }, lng: { type: 'number' } }, required: ['lat', 'lng'] } },
      required: ['city'],
    });
    const out = convert(schema);
    expect(out).toEqual({
      type: 'object',
      properties: { home: address('Where they live'), work: address('Office'), old: { type: 'string', nullable: true } },
      // `missing` names no property: Gemini would reject it.
      required: ['home'],
    });
    expect(rejectedKeys(out)).toEqual([]);
  });

  it('ends a recursive $ref in an open object instead of looping', () => {
    const tree = { $defs: { Node: { type: 'object', description: 'A tree node', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } } } }, $ref: '#/$defs/Node' };
    const out = convert(tree) as any;
    expect(out.properties.name).toEqual({ type: 'string' });
    expect(out.properties.children.items).toEqual({ type: 'object', description: 'A tree node' });
  });

  it('turns anyOf/oneOf with null and type arrays into nullable, and real unions into anyOf', () => {
    const out = convert({
      type: 'object',
      properties: {
        a: { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'maybe a number' },
        b: { type: ['string', 'null'] },
        c: { type: ['string', 'number'] },
        d: { oneOf: [{ type: 'string' }, { type: 'object', properties: { x: { type: 'integer' } } }, { type: 'null' }] },
        e: { type: 'null' },
        f: { enum: ['x', 'y', null] },
      },
    }) as any;
    expect(out.properties).toEqual({
      a: { type: 'integer', nullable: true, description: 'maybe a number' },
      b: { type: 'string', nullable: true },
      c: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      d: { anyOf: [{ type: 'string' }, { type: 'object', properties: { x: { type: 'integer' } } }], nullable: true },
      e: { nullable: true },
      f: { type: 'string', enum: ['x', 'y'], nullable: true },
    });
  });

  it('maps const to enum, keeps non-string constants as a hint, and drops formats Gemini rejects', () => {
    const out = convert({
      type: 'object',
      properties: {
        kind: { const: 'circle' },
        level: { type: 'integer', enum: [1, 2, 3], description: 'Level' },
        when: { type: 'string', format: 'date-time' },
        email: { type: 'string', format: 'email', pattern: '^.+@.+$' },
        big: { type: 'integer', format: 'int64', exclusiveMinimum: 0, multipleOf: 2 },
      },
    }) as any;
    expect(out.properties).toEqual({
      kind: { type: 'string', enum: ['circle'] },
      level: { type: 'integer', description: 'Level (one of: 1, 2, 3)' },
      when: { type: 'string', format: 'date-time' },
      email: { type: 'string', pattern: '^.+@.+$', description: 'format: email' },
      big: { type: 'integer', format: 'int64' },
    });
  });

  it('gives arrays items, keeps properties on objects only, and strips additionalProperties everywhere', () => {
    const out = convert({
      type: 'object',
      properties: {
        tags: { type: 'array' },
        pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] },
        meta: { type: 'object', additionalProperties: { type: 'string' }, propertyNames: { pattern: '^[a-z]+$' } },
        odd: { type: 'string', properties: { x: { type: 'string' } }, required: ['x'] },
      },
      additionalProperties: false,
    }) as any;
    expect(out.properties).toEqual({
      tags: { type: 'array', items: { type: 'string' } },
      pair: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } },
      meta: { type: 'object' },
      odd: { type: 'string' },
    });
    expect(rejectedKeys(out)).toEqual([]);
  });

  it('converts a real Zod 4 schema (uuid, email, nullable enum, default, record, recursion, literal, union)', () => {
    type Node = { name: string; children?: Node[] };
    const node: z.ZodType<Node> = z.object({ name: z.string(), children: z.array(z.lazy(() => node)).optional() });
    const schema = z.toJSONSchema(
      z.object({
        id: z.string().uuid(),
        email: z.string().email().optional(),
        kind: z.enum(['a', 'b']).nullable(),
        n: z.number().int().min(1).default(3),
        tags: z.record(z.string(), z.string()),
        tree: node,
        lit: z.literal('x'),
        when: z.iso.datetime(),
        u: z.union([z.string(), z.number()]),
      }),
    );
    const out = toGeminiSchema(schema, { path: 'schema', ordering: true }) as any;
    expect(rejectedKeys(out)).toEqual([]);
    expect(out.propertyOrdering).toEqual(['id', 'email', 'kind', 'n', 'tags', 'tree', 'lit', 'when', 'u']);
    expect(out.required).toEqual(['id', 'kind', 'n', 'tags', 'tree', 'lit', 'when', 'u']);
    expect(out.properties.kind).toEqual({ type: 'string', enum: ['a', 'b'], nullable: true });
    expect(out.properties.n).toMatchObject({ type: 'integer', minimum: 1 });
    expect(out.properties.lit).toEqual({ type: 'string', enum: ['x'] });
    expect(out.properties.when).toMatchObject({ type: 'string', format: 'date-time' });
    expect(out.properties.tree.properties.name).toEqual({ type: 'string' });
    expect(out.properties.tree.properties.children.items).toEqual({ type: 'object' });
    expect(out.properties.u).toEqual({ anyOf: [{ type: 'string' }, { type: 'number' }] });
  });

  it('refuses a remote $ref with a 400 naming the field', () => {
    let error: unknown;
    try {
      toGeminiParameters({ type: 'object', properties: { x: { $ref: 'https://example.com/x.json' } } }, 'tools[2].function.parameters');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).status).toBe(400);
    expect((error as GatewayError).param).toBe('tools[2].function.parameters.properties.x.$ref');
  });

  it('stops a schema whose $refs multiply when inlined, with a 400 naming it', () => {
    // Each level uses the next one twice: 2^20 nodes if inlined blindly.
    const $defs: Record<string, unknown> = { L20: { type: 'string' } };
    for (let i = 0; i < 20; i++) $defs[`L${i}`] = { type: 'object', properties: { a: { $ref: `#/$defs/L${i + 1}` }, b: { $ref: `#/$defs/L${i + 1}` } } };
    expect(() => toGeminiSchema({ $defs, $ref: '#/$defs/L0' }, { path: 'response_format.json_schema.schema' })).toThrow(
      /response_format\.json_schema\.schema: the schema grows past 20000 nodes/,
    );
  });

  it('declares no parameters for argument-less functions and makes a typeless root an object', () => {
    expect(toGeminiParameters({ type: 'object', properties: {} }, 'p')).toBeUndefined();
    expect(toGeminiParameters({ type: 'object', additionalProperties: false }, 'p')).toBeUndefined();
    expect(toGeminiParameters({ properties: { a: { type: 'string' } } }, 'p')).toEqual({ type: 'object', properties: { a: { type: 'string' } } });
  });

  it('merges a root union of objects (a Zod discriminated union) into one OBJECT', () => {
    const schema = z.toJSONSchema(
      z.discriminatedUnion('entity', [
        z.object({ entity: z.literal('one'), opt1: z.string() }),
        z.object({ entity: z.literal('two'), opt2: z.number() }),
      ]),
    );
    expect(toGeminiParameters(schema, 'p')).toEqual({
      type: 'object',
      properties: { entity: { type: 'string', enum: ['one', 'two'] }, opt1: { type: 'string' }, opt2: { type: 'number' } },
      required: ['entity'],
    });
  });
});

describe('JSON schemas on the wire to Gemini', () => {
  const sanitised = googleGateway();
  const native = googleGateway({ native_json_schema: true });

  it('sanitises the recorded nasty response schema (generateContent.response-json-schema.recording.json)', async () => {
    const rec = recording('gemini/generateContent.response-json-schema.recording.json');
    const schema = rec.request.body.generationConfig.responseJsonSchema;
    sanitised.upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: rec.response.segments[0] });
    const c = await sanitised.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'populate the following object' }],
      response_format: { type: 'json_schema', json_schema: { name: 'obj', schema } },
    });
    const sent = sanitised.upstream.requests[0]!.json.generationConfig;
    expect(sent.responseMimeType).toBe('application/json');
    expect(sent.responseJsonSchema).toBeUndefined();
    expect(rejectedKeys(sent.responseSchema)).toEqual([]);
    expect(sent.responseSchema.properties).toMatchObject({
      nullableField: { type: 'string', nullable: true },
      nullableArrayField: { type: 'array', items: { type: 'string' }, nullable: true },
      nullableObjectField: { type: 'object', nullable: true, required: ['innerString', 'innerNumber'] },
      unionField: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      stringDatatime: { type: 'string', format: 'date-time' },
      stringWithEnum: { type: 'string', enum: ['enumvalue1', 'enumvalue2', 'enumvalue3'] },
      numberWithMinMax: { type: 'number', minimum: 1, maximum: 10 },
      stringWithLength: { type: 'string', minLength: 1, maxLength: 10 },
    });
    expect(sent.responseSchema.required).toEqual(schema.required);
    expect(sent.responseSchema.propertyOrdering).toEqual(Object.keys(schema.properties));
    expect(JSON.parse(c.choices[0]!.message.content!)).toMatchObject({ simpleString: 'Hello', inner: { innerNumber: 100 } });
    expect(c.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 177 + 331, total_tokens: 513 });
  });

  it('falls back to responseJsonSchema for a record or a recursive schema, which the subset can only say as an OBJECT without properties (a 400)', async () => {
    const answer = { json: fixtureJson('gemini/generateContent.text.json') };
    const send = async (schema: Record<string, unknown>) => {
      sanitised.upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', answer);
      await sanitised.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'go' }], response_format: { type: 'json_schema', json_schema: { name: 'obj', schema } } });
      return sanitised.upstream.requests.at(-1)!.json.generationConfig;
    };
    const nested = { type: 'object', properties: { name: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' } } } };
    expect(await send(nested)).toEqual({ responseMimeType: 'application/json', responseJsonSchema: nested });
    const root = { type: 'object', additionalProperties: { type: 'integer' } };
    expect(await send(root)).toEqual({ responseMimeType: 'application/json', responseJsonSchema: root });
    // Google takes only `$`-keywords beside a `$ref`.
    const tree = {
      $defs: { Node: { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node', description: 'a child' } } } } },
      $ref: '#/$defs/Node',
    };
    const sent = await send(tree);
    expect(sent.responseSchema).toBeUndefined();
    expect(sent.responseJsonSchema.$defs.Node.properties.children.items).toEqual({ allOf: [{ $ref: '#/$defs/Node' }], description: 'a child' });
    // A closed schema still goes out in the subset.
    expect((await send({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false })).responseSchema).toEqual({ type: 'object', properties: { a: { type: 'string' } } });
  });

  it('sends the schema verbatim as responseJsonSchema when the target sets native_json_schema (same recording)', async () => {
    const rec = recording('gemini/generateContent.response-json-schema.recording.json');
    native.upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: rec.response.segments[0] });
    await native.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'populate the following object' }],
      response_format: { type: 'json_schema', json_schema: { name: 'obj', schema: rec.request.body.generationConfig.responseJsonSchema } },
    });
    expect(native.upstream.requests[0]!.json).toEqual(rec.request.body);
  });

  it('sends function schemas verbatim as parametersJsonSchema in native mode (generateContent.function-call.recording.json)', async () => {
    const rec = recording('gemini/generateContent.function-call.recording.json');
    const decl = rec.request.body.tools[0].functionDeclarations[0];
    native.upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: rec.response.segments[0] });
    const c = await native.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: rec.request.body.contents[0].parts[0].text }],
      tools: [{ type: 'function', function: { name: decl.name, description: decl.description, parameters: decl.parametersJsonSchema } }],
      tool_choice: { type: 'function', function: { name: decl.name } },
    });
    const sent = native.upstream.requests[0]!.json;
    expect(sent.tools).toEqual(rec.request.body.tools);
    expect(sent.toolConfig).toEqual(rec.request.body.toolConfig);
    expect(sent.contents).toEqual(rec.request.body.contents);
    const call = c.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ firstString: 'hello', secondString: 'world' });
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('sanitises the same function schema by default', async () => {
    const rec = recording('gemini/generateContent.function-call.recording.json');
    const decl = rec.request.body.tools[0].functionDeclarations[0];
    sanitised.upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: rec.response.segments[0] });
    await sanitised.client.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'go' }],
      tools: [{ type: 'function', function: { name: decl.name, description: decl.description, parameters: decl.parametersJsonSchema } }],
    });
    expect(sanitised.upstream.requests[0]!.json.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'concatStringFunction',
            description: 'this is a concat string function',
            parameters: { type: 'object', properties: { firstString: { type: 'string' }, secondString: { type: 'string' } }, required: ['firstString', 'secondString'] },
          },
        ],
      },
    ]);
  });

  it('structured output from the recorded responseJsonSchema cassette, both ways (generateContent.json-schema.cassette.yaml)', async () => {
    const [rec] = cassette('gemini/generateContent.json-schema.cassette.yaml');
    const schema = rec!.request.parsed_body.generationConfig.responseJsonSchema;
    const request = { model: 'gemini-2.0-flash', messages: [{ role: 'user' as const, content: 'What is the largest city in Mexico?' }], response_format: { type: 'json_schema' as const, json_schema: { name: 'CityLocation', schema } } };
    native.upstream.enqueue('/v1beta/models/gemini-2.0-flash:generateContent', { json: rec!.response.parsed_body });
    sanitised.upstream.enqueue('/v1beta/models/gemini-2.0-flash:generateContent', { json: rec!.response.parsed_body });
    const a = await native.client.chat.completions.create(request);
    const b = await sanitised.client.chat.completions.create(request);
    const { responseModalities: _m, ...config } = rec!.request.parsed_body.generationConfig;
    expect(native.upstream.requests[0]!.json).toEqual({ contents: rec!.request.parsed_body.contents, generationConfig: config });
    expect(sanitised.upstream.requests[0]!.json.generationConfig).toEqual({
      responseMimeType: 'application/json',
      responseSchema: { ...schema, propertyOrdering: ['city', 'country'] },
    });
    for (const c of [a, b]) {
      expect(JSON.parse(c.choices[0]!.message.content!)).toEqual({ city: 'Mexico City', country: 'Mexico' });
      expect(c.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 20, total_tokens: 28 });
    }
  });

  it('rejects a tool schema with a remote $ref before calling Gemini, naming the field', async () => {
    const res = await fetch(`${sanitised.app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { $ref: 'http://evil.example/schema' } } } } }],
      }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.param).toBe('tools[0].function.parameters.properties.a.$ref');
    expect(sanitised.upstream.requests).toHaveLength(0);
  });
});
