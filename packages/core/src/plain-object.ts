/** A JSON object (not an array, not null): the shape of a schema node, a config section, a body. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
