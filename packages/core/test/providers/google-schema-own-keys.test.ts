import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { toGeminiParameters, toGeminiSchema } from '../../src/providers/google/schema.js';

/** Schemas as a client sends them: JSON.parse makes `__proto__` an own key. */
const parse = (json: string) => JSON.parse(json) as unknown;

describe('Gemini schema conversion reads and writes own keys only', () => {
  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('a property of type "%s" with a format keeps its type, the format goes to the description', (type) => {
    const out = toGeminiSchema(parse(`{"type":"object","properties":{"at":{"type":${JSON.stringify(type)},"format":"date"}}}`), { path: 'p' });
    expect((out.properties as Record<string, unknown>).at).toEqual({ type, description: 'format: date' });
  });

  it('properties named "__proto__", "constructor" and "toString" are sent as properties', () => {
    const out = toGeminiSchema(parse('{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"integer"},"toString":{"type":"boolean"}},"required":["__proto__"]}'), {
      path: 'p',
    });
    expect(JSON.parse(JSON.stringify(out))).toEqual(
      parse('{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"integer"},"toString":{"type":"boolean"}},"required":["__proto__"]}'),
    );
    expect(Object.getPrototypeOf(out.properties)).toBe(Object.prototype);
  });

  it('a union of objects keeps fields named like Object.prototype members', () => {
    const out = toGeminiParameters(
      parse('{"anyOf":[{"type":"object","properties":{"constructor":{"type":"string"},"toString":{"type":"string"}},"required":["constructor"]},{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"string"}},"required":["constructor"]}]}'),
      'p',
    )!;
    expect(Object.keys(out.properties as object)).toEqual(['constructor', 'toString', '__proto__']);
    expect(out.required).toEqual(['constructor']);
  });

  it.each(['#/__proto__', '#/$defs/constructor', '#/$defs/toString'])('$ref "%s" points to no schema in the document: a 400 naming it', (ref) => {
    const schema = parse(`{"type":"object","$defs":{"A":{"type":"string"}},"properties":{"a":{"$ref":${JSON.stringify(ref)}}}}`);
    expect(() => toGeminiSchema(schema, { path: 'p' })).toThrow(GatewayError);
    expect(() => toGeminiSchema(schema, { path: 'p' })).toThrow(expect.objectContaining({ param: 'p.properties.a.$ref' }));
  });
});
