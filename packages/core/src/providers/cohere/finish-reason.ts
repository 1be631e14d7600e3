import { GatewayError } from '../../errors.js';
import type { FinishReason } from '../openai-types.js';
import type { CohereFinishReason } from './wire.js';

const MAP: Record<string, FinishReason> = {
  COMPLETE: 'stop',
  STOP_SEQUENCE: 'stop',
  MAX_TOKENS: 'length',
  TOOL_CALL: 'tool_calls',
};

/**
 * Cohere's finish reason → OpenAI's. `ERROR` and `TIMEOUT` mean the generation failed on Cohere's side:
 * they become errors, so a failed answer never reaches the client as a normal one.
 */
export function toFinishReason(reason: CohereFinishReason | undefined, detail?: string): FinishReason {
  if (reason === 'ERROR') {
    throw new GatewayError('provider_error', `cohere failed while generating${detail ? `: ${detail}` : ''}`, { provider: 'cohere' });
  }
  if (reason === 'TIMEOUT') {
    throw new GatewayError('upstream_timeout', `cohere timed out while generating${detail ? `: ${detail}` : ''}`, { provider: 'cohere', source: 'provider' });
  }
  return (reason ? MAP[reason] : undefined) ?? 'stop';
}
