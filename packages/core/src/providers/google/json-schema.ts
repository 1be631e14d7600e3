/**
 * A client's JSON Schema sent as it is (`parametersJsonSchema`, `responseJsonSchema`): the fallback for
 * what Gemini's OpenAPI subset cannot say, free-form objects above all.
 */

/** A schema that is a record: keys the client does not name, each with values of one schema. */
export const isRecord = (schema: unknown): boolean => {
  const extra = (schema as { additionalProperties?: unknown } | null)?.additionalProperties;
  return extra === true || (typeof extra === 'object' && extra !== null);
};

/**
 * Google's JSON Schema takes no keywords beside a `$ref` but `$`-ones; Pydantic and Zod write
 * `{ "$ref": …, "description": … }`. Such a node becomes `{ "allOf": [{ "$ref": … }], "description": … }`,
 * which says the same.
 */
export function refsAlone(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(refsAlone);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = refsAlone(v);
  if (typeof out.$ref === 'string' && Object.keys(out).some((k) => !k.startsWith('$'))) {
    const { $ref, ...rest } = out;
    return { allOf: [{ $ref }], ...rest };
  }
  return out;
}
