import { isPlainObject } from '../../plain-object.js';
import { mapSubschemas } from '../json-schema-walk.js';

/**
 * A JSON schema reduced to the subset Anthropic compiles into a grammar, for `output_config.format` and
 * strict tools. Anthropic answers 400 for anything else ("For 'integer' type, property 'minimum' is not
 * supported"), while the same schema is valid for OpenAI (Zod's `.min()` / `.max()`, Pydantic's `Field(ge=…)`).
 * As Anthropic's own SDKs do, a dropped constraint is appended to the node's `description`, so the model
 * still reads it; the client's own parser (`parse()`, Zod) still enforces it on the answer.
 */

type Schema = Record<string, unknown>;

/** Numeric, string-length, array and object bounds: none is part of the subset. */
const UNSUPPORTED = [
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength',
  'maxItems', 'uniqueItems', 'contains', 'minContains', 'maxContains',
  'minProperties', 'maxProperties', 'patternProperties', 'propertyNames',
] as const;

/** String formats the subset knows; others (`regex`, `uri-reference`, …) are refused. */
const FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'uri', 'ipv4', 'ipv6', 'uuid']);

function reduce(node: unknown): unknown {
  if (!isPlainObject(node)) return node;
  const out: Schema = { ...node };
  const dropped: string[] = [];
  const drop = (key: string) => {
    dropped.push(`${key}: ${JSON.stringify(out[key])}`);
    delete out[key];
  };

  for (const key of UNSUPPORTED) if (out[key] !== undefined) drop(key);
  if (typeof out.minItems === 'number' && out.minItems > 1) drop('minItems');
  if (typeof out.format === 'string' && !FORMATS.has(out.format)) drop('format');
  // Only `false` is accepted, and an object must say so: a record's value schema (or `true`) cannot be
  // expressed, so every object is closed, as Anthropic's own SDKs close it.
  if (out.additionalProperties !== undefined && out.additionalProperties !== false) drop('additionalProperties');
  if (out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object')) || isPlainObject(out.properties)) out.additionalProperties = false;
  // `oneOf` is not in the subset; for generating one value it means what `anyOf` means.
  if (Array.isArray(out.oneOf) && out.anyOf === undefined) {
    out.anyOf = out.oneOf;
    delete out.oneOf;
  }

  mapSubschemas(out, reduce);

  if (dropped.length) {
    const note = `{${dropped.join(', ')}}`;
    out.description = typeof out.description === 'string' && out.description ? `${out.description}\n\n${note}` : note;
  }
  return out;
}

/** The schema in Anthropic's structured-output subset; the input is not modified. */
export function toAnthropicOutputSchema(schema: Schema): Schema {
  return reduce(schema) as Schema;
}
