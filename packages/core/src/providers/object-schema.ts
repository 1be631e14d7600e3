/**
 * A tool's input schema with the root `type: "object"` that Anthropic ("input_schema.type: Field
 * required") and Bedrock Converse ("inputSchema.json.type must be … object") insist on. OpenAI takes
 * schemas without it (MCP and Codex tools send `{properties, required}` or `{}`), and a function's
 * arguments are an object whatever the schema says, so the type is only made explicit.
 */
export function objectSchema(schema: unknown): Record<string, unknown> {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return { type: 'object', properties: {} };
  const s = schema as Record<string, unknown>;
  if (s.type !== undefined) return s;
  return s.properties === undefined ? { type: 'object', ...s, properties: {} } : { type: 'object', ...s };
}
