import { isPlainObject } from '../plain-object.js';

/** Keywords whose value is one subschema or a list of them. */
const SUBSCHEMAS = ['items', 'prefixItems', 'additionalProperties', 'not', 'if', 'then', 'else', 'anyOf', 'allOf', 'oneOf'] as const;
/** Keywords whose value maps names to subschemas. */
const SUBSCHEMA_MAPS = ['properties', '$defs', 'definitions'] as const;

/** Replaces, in `node` itself, each of its direct subschemas by what `fn` makes of it. */
export function mapSubschemas(node: Record<string, unknown>, fn: (schema: Record<string, unknown>) => unknown): void {
  const one = (v: unknown) => (isPlainObject(v) ? fn(v) : v);
  for (const key of SUBSCHEMAS) {
    const v = node[key];
    if (Array.isArray(v)) node[key] = v.map(one);
    else if (isPlainObject(v)) node[key] = fn(v);
  }
  for (const key of SUBSCHEMA_MAPS) {
    const map = node[key];
    if (isPlainObject(map)) node[key] = Object.fromEntries(Object.entries(map).map(([name, sub]) => [name, one(sub)]));
  }
}

/** Whether `test` holds for every direct subschema of `node`. */
export function everySubschema(node: Record<string, unknown>, test: (schema: Record<string, unknown>) => boolean): boolean {
  const ok = (v: unknown) => !isPlainObject(v) || test(v);
  for (const key of SUBSCHEMAS) {
    const v = node[key];
    if (Array.isArray(v) ? !v.every(ok) : !ok(v)) return false;
  }
  for (const key of SUBSCHEMA_MAPS) {
    const map = node[key];
    if (isPlainObject(map) && !Object.values(map).every(ok)) return false;
  }
  return true;
}
