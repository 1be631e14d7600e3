/**
 * Mistral's magistral models send `content` as parts instead of a string:
 * `[{type:"thinking", thinking:[{type:"text", text}]}, {type:"text", text}]`. OpenAI clients expect a
 * string, so the thinking goes to `reasoning_content` (as DeepSeek and xAI send it) and the text stays content.
 */
export function splitContentParts(parts: unknown[]): { text: string; reasoning: string } {
  let text = '';
  let reasoning = '';
  for (const part of parts as Array<{ type?: unknown; text?: unknown; thinking?: unknown }>) {
    if (part?.type === 'text' && typeof part.text === 'string') text += part.text;
    else if (part?.type === 'thinking') reasoning += textOf(part.thinking);
  }
  return { text, reasoning };
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return '';
  return value.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('');
}
