import { GatewayError } from '../../errors.js';
import type { GenerateContentRequest } from './wire.js';

/**
 * Gemini before 3 answers 400 "Function calling with a response mime type: 'application/json' is
 * unsupported"; Gemini 3 takes both. Refusing before the call names the field to drop instead of
 * relaying an upstream error. A model name without a version (a tuned model, an alias) is let through:
 * the upstream knows which generation it is.
 */
export function refuseJsonWithFunctions(out: GenerateContentRequest, model: string): void {
  const major = /gemini-(\d+)/.exec(model)?.[1];
  if (major === undefined || Number(major) >= 3) return;
  if (out.generationConfig?.responseMimeType !== 'application/json') return;
  const functions = out.tools?.some((t) => Array.isArray(t.functionDeclarations) && t.functionDeclarations.length > 0);
  if (!functions) return;
  throw new GatewayError(
    'invalid_request',
    `response_format: ${model} cannot answer in JSON while function tools are declared (Gemini before 3 refuses function calling with the response mime type application/json); drop response_format or the tools, or use a Gemini 3 model`,
    { param: 'response_format' },
  );
}
