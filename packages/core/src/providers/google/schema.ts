import { isPlainObject } from '../../plain-object.js';
import { GatewayError } from '../../errors.js';

/**
 * JSON Schema (what OpenAI clients, Zod and Pydantic produce) → the OpenAPI 3.0 subset Gemini's
 * `parameters` and `responseSchema` accept. Gemini answers 400 "Invalid JSON payload … Unknown name"
 * for `$schema`, `additionalProperties`, `$ref`, `const`, type arrays and more — the most reported
 * gateway bug with Gemini — so everything is rebuilt from an allow-list instead of passed through.
 */

type Schema = Record<string, unknown>;

export interface GeminiSchemaOptions {
  /** JSON path of the schema in the request, for error messages (`tools[0].function.parameters`). */
  path: string;
  /**
   * Add `propertyOrdering` so structured output keeps the client's key order (Gemini sorts keys
   * alphabetically otherwise). Meant for `responseSchema`.
   */
  ordering?: boolean;
}

/** Keywords copied as they are; everything else is translated below or dropped. */
const KEEP = ['title', 'description', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'example'] as const;

/** Formats Gemini accepts per type; others (`email`, `uri`, `uuid`, …) are rejected with a 400. */
const FORMATS: Record<string, string[]> = { string: ['date-time', 'enum'], number: ['float', 'double'], integer: ['int32', 'int64'] };

/** Recursion depth past which `$ref` cycles and absurd nesting stop being expanded. */
const MAX_DEPTH = 24;
/** Inlining `$ref`s can multiply a schema (a definition used twice at each of many levels): stop well before that hurts. */
const MAX_NODES = 20_000;

/**
 * Sets `key` as an own property: the client names properties, and `obj["__proto__"] = v` would
 * replace the object's prototype instead (the property lost, the rest of the schema inheriting from `v`).
 */
const setOwn = (obj: Schema, key: string, value: unknown): void => {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
};

const isNullSchema = (v: unknown) =>
  isPlainObject(v) && (v.type === 'null' || (Array.isArray(v.type) && v.type.length === 1 && v.type[0] === 'null'));

function appendDescription(out: Schema, note: string): void {
  out.description = typeof out.description === 'string' && out.description ? `${out.description} (${note})` : note;
}

function jsonType(values: unknown[]): string | undefined {
  if (values.every((v) => typeof v === 'string')) return 'string';
  if (values.every((v) => Number.isInteger(v))) return 'integer';
  if (values.every((v) => typeof v === 'number')) return 'number';
  if (values.every((v) => typeof v === 'boolean')) return 'boolean';
  return undefined;
}

class Converter {
  private nodes = 0;

  constructor(
    private readonly root: Schema,
    private readonly options: GeminiSchemaOptions,
  ) {}

  /** Follows a local JSON pointer (`#/$defs/Item`, `#/definitions/Item`, `#`). */
  private resolve(ref: string, path: string): Schema {
    if (!ref.startsWith('#')) {
      throw new GatewayError('invalid_request', `${path}.$ref: only local references ("#/$defs/…") can be sent to Gemini, got "${ref}"`, {
        param: `${path}.$ref`,
      });
    }
    let node: unknown = this.root;
    for (const raw of ref.slice(1).split('/').filter(Boolean)) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      // Own keys only: "#/__proto__" or "#/$defs/constructor" must not reach Object.prototype's members.
      node = isPlainObject(node) && Object.hasOwn(node, key) ? node[key] : undefined;
    }
    if (!isPlainObject(node)) {
      throw new GatewayError('invalid_request', `${path}.$ref: "${ref}" does not point to a schema in this document`, { param: `${path}.$ref` });
    }
    return node;
  }

  /** Inlines `$ref` and flattens `allOf` so the rest only ever sees one plain schema. */
  private flatten(node: Schema, path: string, refs: string[]): { schema: Schema; refs: string[] } {
    let schema = node;
    let seen = refs;
    while (typeof schema.$ref === 'string') {
      const ref = schema.$ref;
      // Gemini has no way to express recursion: a cycle ends in an open object the model can still fill.
      if (seen.includes(ref) || seen.length >= MAX_DEPTH) {
        const { $ref: _ref, ...siblings } = schema;
        const description = siblings.description ?? this.resolve(ref, path).description;
        return { schema: description === undefined ? { type: 'object', ...siblings } : { type: 'object', ...siblings, description }, refs: seen };
      }
      const { $ref: _ref, ...siblings } = schema;
      // Keywords written beside `$ref` (a field's own description) override the referenced schema's.
      schema = { ...this.resolve(ref, path), ...siblings };
      seen = [...seen, ref];
    }
    if (Array.isArray(schema.allOf)) {
      const { allOf, ...rest } = schema;
      let merged: Schema = {};
      for (const [i, part] of (allOf as unknown[]).entries()) {
        if (!isPlainObject(part)) continue;
        const flat = this.flatten(part, `${path}.allOf[${i}]`, seen).schema;
        merged = mergeSchemas(merged, flat);
      }
      schema = mergeSchemas(merged, rest, true);
    }
    return { schema, refs: seen };
  }

  convert(input: unknown, path: string, refs: string[] = []): Schema {
    if (!isPlainObject(input)) return {};
    if (refs.length > MAX_DEPTH) return { type: 'object' };
    if (++this.nodes > MAX_NODES) {
      throw new GatewayError('invalid_request', `${this.options.path}: the schema grows past ${MAX_NODES} nodes once its $refs are inlined for Gemini`, {
        param: this.options.path,
      });
    }
    const { schema: node, refs: seen } = this.flatten(input, path, refs);
    const out: Schema = {};
    for (const key of KEEP) if (node[key] !== undefined) out[key] = node[key];

    let nullable = node.nullable === true;
    let type = node.type;
    if (Array.isArray(type)) {
      if (type.includes('null')) nullable = true;
      const types = type.filter((t) => t !== 'null');
      if (types.length > 1) {
        // `type: ["string", "number"]` has no OpenAPI 3.0 form other than anyOf.
        const { type: _t, description: _d, title: _ti, ...shared } = node;
        out.anyOf = types.map((t, i) => this.convert({ ...shared, type: t }, `${path}.type[${i}]`, seen));
        if (nullable) out.nullable = true;
        return out;
      }
      type = types[0];
    }
    if (type === 'null') return { ...out, nullable: true };

    const variants = (node.anyOf ?? node.oneOf) as unknown[] | undefined;
    if (Array.isArray(variants)) {
      const key = node.anyOf ? 'anyOf' : 'oneOf';
      if (variants.some(isNullSchema)) nullable = true;
      const rest = variants.map((v, i) => [v, i] as const).filter(([v]) => !isNullSchema(v));
      const converted = rest.map(([v, i]) => this.convert(v, `${path}.${key}[${i}]`, seen));
      if (converted.length === 1) {
        // `anyOf: [X, null]` (Pydantic's Optional[X]) becomes X itself, nullable; the outer description wins.
        const only = converted[0]!;
        Object.assign(out, { ...only, ...out });
        if (nullable) out.nullable = true;
        return out;
      }
      if (converted.length > 1) out.anyOf = converted;
    }

    let values: unknown[] | undefined = Array.isArray(node.enum) ? node.enum : node.const !== undefined ? [node.const] : undefined;
    if (values) {
      if (values.includes(null)) nullable = true;
      values = values.filter((v) => v !== null);
      type ??= jsonType(values);
      if (values.length && values.every((v) => typeof v === 'string')) out.enum = values;
      // Gemini takes `enum` on strings only; other constants stay as a hint the model reads.
      else if (values.length) appendDescription(out, `one of: ${values.map((v) => JSON.stringify(v)).join(', ')}`);
    }

    if (typeof type !== 'string') {
      if (isPlainObject(node.properties)) type = 'object';
      else if (node.items !== undefined || node.prefixItems !== undefined) type = 'array';
    }
    if (typeof type === 'string') out.type = type;

    if (typeof node.format === 'string') {
      // Own keys only: a type named "toString" or "constructor" would find Object.prototype's functions.
      if (typeof type === 'string' && Object.hasOwn(FORMATS, type) && FORMATS[type]!.includes(node.format)) out.format = node.format;
      else appendDescription(out, `format: ${node.format}`);
    }

    // `properties` and `items` on another type are a 400 ("only allowed for OBJECT type").
    if (isPlainObject(node.properties) && (type === undefined || type === 'object')) {
      const props: Schema = {};
      for (const [name, sub] of Object.entries(node.properties)) setOwn(props, name, this.convert(sub, `${path}.properties.${name}`, seen));
      out.properties = props;
      const names = Object.keys(props);
      // Gemini rejects a `required` entry with no matching property.
      if (Array.isArray(node.required)) {
        const required = node.required.filter((r): r is string => typeof r === 'string' && names.includes(r));
        if (required.length) out.required = required;
      }
      if (this.options.ordering && names.length > 1) out.propertyOrdering = names;
    }

    if (type === 'array') {
      const tuple = Array.isArray(node.items) ? node.items : Array.isArray(node.prefixItems) ? node.prefixItems : undefined;
      if (tuple) {
        const items = tuple.map((t, i) => this.convert(t, `${path}.items[${i}]`, seen));
        out.items = items.length === 1 ? items[0] : { anyOf: items };
      } else if (isPlainObject(node.items)) {
        out.items = this.convert(node.items, `${path}.items`, seen);
      } else {
        // Gemini rejects an ARRAY without `items` ("items: missing field").
        out.items = { type: 'string' };
      }
    }
    if (nullable) out.nullable = true;
    return out;
  }
}

/** Merges two schemas the way `allOf` means it: properties and `required` are unioned, `over` wins otherwise. */
function mergeSchemas(base: Schema, over: Schema, overWins = false): Schema {
  const out: Schema = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (key === 'properties' && isPlainObject(value) && isPlainObject(out.properties)) out.properties = { ...out.properties, ...value };
    else if (key === 'required' && Array.isArray(value) && Array.isArray(out.required)) out.required = [...new Set([...out.required, ...value])];
    else if (overWins || !Object.hasOwn(out, key) || out[key] === undefined) setOwn(out, key, value);
  }
  return out;
}

/** Converts one JSON schema; `$defs` / `definitions` are looked up in the schema itself. */
export function toGeminiSchema(schema: unknown, options: GeminiSchemaOptions): Schema {
  const root = isPlainObject(schema) ? schema : {};
  return new Converter(root, options).convert(root, options.path);
}

/**
 * Function parameters: Gemini rejects an OBJECT without properties ("should be non-empty for
 * OBJECT type"), so a function that takes no arguments is declared without `parameters`. (A nested
 * free-form object — a record — has no OpenAPI-subset form at all: see `hasOpenObject`.)
 */
export function toGeminiParameters(schema: unknown, path: string): Schema | undefined {
  if (!isPlainObject(schema)) return undefined;
  let out = toGeminiSchema(schema, { path });
  if (Array.isArray(out.anyOf) && out.anyOf.every((v) => isPlainObject(v) && isPlainObject(v.properties))) out = unionOfObjects(out);
  if (!isPlainObject(out.properties) || Object.keys(out.properties).length === 0) return undefined;
  // Vertex insists the root is an OBJECT even when the client left `type` out.
  return { ...out, type: 'object' };
}

/**
 * A root `anyOf` of objects (Zod's discriminated unions) has no OBJECT form, which Gemini requires for
 * parameters: the variants are merged, every field optional unless all variants require it.
 */
function unionOfObjects(schema: Schema): Schema {
  const variants = schema.anyOf as Schema[];
  const properties: Schema = {};
  for (const v of variants) {
    for (const [k, p] of Object.entries(v.properties as Schema)) {
      // Own keys only: a field named "constructor" or "toString" would find Object.prototype's member and be dropped.
      const seen = Object.hasOwn(properties, k) ? (properties[k] as Schema | undefined) : undefined;
      // A discriminator (`kind: "a"` in one variant, `kind: "b"` in the next) keeps all its values.
      if (seen && Array.isArray(seen.enum) && isPlainObject(p) && Array.isArray(p.enum)) setOwn(properties, k, { ...seen, enum: [...new Set([...seen.enum, ...p.enum])] });
      else if (seen === undefined || seen === null) setOwn(properties, k, p);
    }
  }
  const required = Object.keys(properties).filter((k) => variants.every((v) => Array.isArray(v.required) && v.required.includes(k)));
  const { anyOf: _a, nullable: _n, ...rest } = schema;
  return { ...rest, type: 'object', properties, ...(required.length ? { required } : {}) };
}

/**
 * Whether a converted schema holds, below its root, an OBJECT without properties: a free-form object
 * (`{"type":"object"}`, a record, the end of a recursive `$ref`), which Gemini refuses in `parameters`
 * ("should be non-empty for OBJECT type") and the subset has no other form for. Such a function is
 * declared with its JSON Schema as `parametersJsonSchema`, which takes open objects.
 */
export function hasOpenObject(schema: Schema): boolean {
  const below = (node: unknown): boolean => isOpenObject(node) || (isPlainObject(node) && children(node).some(below));
  return children(schema).some(below);
}

/** A converted node that is an OBJECT without properties (see `hasOpenObject`). */
export const isOpenObject = (node: unknown): boolean =>
  isPlainObject(node) && node.type === 'object' && (!isPlainObject(node.properties) || Object.keys(node.properties).length === 0);

const children = (node: Schema): unknown[] => [
  ...(isPlainObject(node.properties) ? Object.values(node.properties) : []),
  ...(node.items === undefined ? [] : [node.items]),
  ...(Array.isArray(node.anyOf) ? node.anyOf : []),
];
