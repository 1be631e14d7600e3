/**
 * Whether a `tool_use` block is one the `/v1/messages` ingress builds again from an OpenAI tool call
 * (`ingress/anthropic-messages/to-message.ts`): id, name, input, and a direct caller (the ingress
 * writes `caller: {type: "direct"}`, which the SDK types require). A call made by a server tool
 * (programmatic tool calling) or from a toolset cannot come back whole from a cache hit.
 */
export function rebuildable(block: Record<string, unknown>): boolean {
  for (const key in block) {
    if (key === 'type' || key === 'id' || key === 'name' || key === 'input') continue;
    if (key === 'caller' && (block.caller as { type?: unknown } | null)?.type === 'direct' && Object.keys(block.caller as object).length === 1) continue;
    return false;
  }
  return true;
}
