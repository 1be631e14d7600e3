import type { TokenCount } from './types.js';

/**
 * A counter's `response` for an upstream that answers its count in one numeric field (Bedrock's
 * `inputTokens`, Gemini's `totalTokens`): that number as Anthropic's `{input_tokens}`, or undefined
 * (the gateway checks the number and makes a missing one a 502).
 */
export const countIn =
  (field: string) =>
  (json: unknown): TokenCount | undefined => {
    const n = (json as Record<string, unknown> | null)?.[field];
    return typeof n === 'number' ? { input_tokens: n } : undefined;
  };
