import { GatewayError } from '../../errors.js';
import { bytesToBase64, utf8Bytes } from '../../http/bytes.js';
import { betaFlags } from '../anthropic/headers.js';
import type { CallContext } from '../types.js';
import { BEDROCK_BETAS } from './betas.js';
import { BEDROCK_ANTHROPIC_VERSION, isClaudeModel } from './invoke-anthropic.js';

/**
 * InvokeModel requires `max_tokens` for Claude, and count clients seldom send one (Anthropic's own
 * count takes none). It does not change an input count, so the least Claude accepts goes: 1, or one
 * more than a thinking budget, which must stay below it.
 */
function maxTokensFor(thinking: unknown): number {
  const budget = (thinking as { budget_tokens?: unknown } | null | undefined)?.budget_tokens;
  return typeof budget === 'number' && Number.isInteger(budget) && budget > 0 ? budget + 1 : 1;
}

/**
 * The CountTokens body (AWS API reference, `CountTokensInput` › `InvokeModelTokensRequest`):
 * `{"input":{"invokeModel":{"body":"<base64>"}}}`, the body being the client's Messages body as
 * InvokeModel takes it for Claude — `anthropic_version` and beta flags in it, no `model` (it is in the
 * URL), no `stream`. InvokeModel whatever the target's `bedrock_api`: only the native body carries every
 * Messages field a count must see. A model that is no Claude is refused before sending, as a target
 * with no count to give is. The model goes as the target names it; a cross-region inference profile
 * Bedrock refuses to count for is asked again under its foundation model (`alternateModel` in
 * `provider.ts`), and a second refusal is the client's answer, never a guessed count.
 */
export function toCountTokensBody(body: Record<string, unknown>, ctx: CallContext): string {
  if (!isClaudeModel(ctx.model)) {
    throw new GatewayError('not_found', `POST /v1/messages/count_tokens on Bedrock counts for Anthropic Claude models only; ${ctx.target.path} serves "${ctx.model}"`, { param: 'model' });
  }
  const invoke: Record<string, unknown> = { ...body, anthropic_version: BEDROCK_ANTHROPIC_VERSION };
  delete invoke.model;
  delete invoke.stream;
  delete invoke.anthropic_beta;
  invoke.max_tokens ??= maxTokensFor(body.thinking);
  const betas = betaFlags(ctx, body.anthropic_beta, (flag) => BEDROCK_BETAS.has(flag));
  if (betas.length) invoke.anthropic_beta = betas;
  return JSON.stringify({ input: { invokeModel: { body: bytesToBase64(utf8Bytes(JSON.stringify(invoke))) } } });
}
