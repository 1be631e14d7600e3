import type { PriceSheet } from './price-sheet.js';

/**
 * Prices the `@pydantic/genai-prices` database gets wrong for a model llmux serves, by llmux provider
 * id. Each entry names its source; drop it once the database prices the model right. Read only when a
 * model's price is first looked up (the price book keeps the result).
 */
const CORRECTIONS: ReadonlyArray<{ provider: string; model: RegExp; sheet: PriceSheet }> = [
  // AWS Bedrock pricing page (aws.amazon.com/bedrock/pricing, Amazon Titan): Titan Text Embeddings V2
  // is $0.00002 per 1,000 input tokens. The database matches every `amazon.titan-embed-text` model
  // to V1's $0.0001.
  { provider: 'bedrock', model: /^amazon\.titan-embed-text-v2(?::\d+)?$/, sheet: { input: 0.02, output: 0 } },
];

/** The corrected price of `model` on `provider`, when the database's is known to be wrong. */
export function correctedPrice(provider: string, model: string): PriceSheet | undefined {
  for (const c of CORRECTIONS) if (c.provider === provider && c.model.test(model)) return c.sheet;
  return undefined;
}
