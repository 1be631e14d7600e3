import type { GeminiPart } from './wire.js';

/** What one batch of Gemini parts says, in OpenAI terms. */
export interface PartsSummary {
  text: string;
  /** Thought summaries (`thought: true`), for `reasoning_content`. */
  reasoning: string;
  calls: Array<{ name: string; args: Record<string, unknown>; id?: string; signature?: string }>;
  /** The signature on a text or thought part (Gemini 3 puts one on the last part of a plain answer). */
  signature?: string;
  /** Some text arrived (possibly empty), so content is `""` rather than `null`. */
  hasText: boolean;
}

/** Reads parts in order; code execution (a built-in tool) is shown as Markdown code blocks. */
export function readParts(parts: GeminiPart[] | undefined): PartsSummary {
  const out: PartsSummary = { text: '', reasoning: '', calls: [], hasText: false };
  for (const part of parts ?? []) {
    if (part.functionCall) {
      const call: PartsSummary['calls'][number] = { name: part.functionCall.name, args: part.functionCall.args ?? {} };
      if (part.functionCall.id) call.id = part.functionCall.id;
      if (part.thoughtSignature) call.signature = part.thoughtSignature;
      out.calls.push(call);
      continue;
    }
    if (part.thoughtSignature) out.signature = part.thoughtSignature;
    if (typeof part.text === 'string') {
      if (part.thought) out.reasoning += part.text;
      else {
        out.text += part.text;
        out.hasText = true;
      }
    } else if (part.executableCode) {
      out.text += `\n\`\`\`${(part.executableCode.language ?? '').toLowerCase()}\n${part.executableCode.code}\n\`\`\`\n`;
      out.hasText = true;
    } else if (part.codeExecutionResult) {
      out.text += `\n\`\`\`output\n${part.codeExecutionResult.output ?? ''}\n\`\`\`\n`;
      out.hasText = true;
    }
  }
  return out;
}

/**
 * Gemini gives function calls no id (or not always), so one is derived from the response id, the
 * candidate and the call's position: the same answer gets the same ids, streamed or not, cached or not.
 */
export function callId(responseId: string, candidate: number, n: number): string {
  return `call_${responseId}_${candidate}_${n}`;
}
