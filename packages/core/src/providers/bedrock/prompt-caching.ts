import type { ConverseRequest } from './converse-types.js';
import { withoutGeography } from './foundation-model.js';

/** Claude models Bedrock serves without prompt caching: Claude 2, Instant, the Claude 3 line and 3.5 Sonnet v1. */
const UNCACHED_CLAUDE = /^claude-(?:v2|instant|3-(?:opus|sonnet|haiku)-|3-5-sonnet-20240620)/;

/**
 * Whether Bedrock takes cache points for `model`. It refuses them on a model without prompt caching
 * ("You invoked an unsupported model or your request did not allow prompt caching"), so an app
 * sending Anthropic-style `cache_control` (Claude Code does on every request) would fail on Llama,
 * Mistral, DeepSeek… Prompt caching is Claude's (3.5 Haiku, 3.7 and later) and Nova's. An ARN
 * (an application inference profile) does not name its model: the app placed the marks, they stay.
 */
export function cachesPrompts(model: string): boolean {
  if (model.startsWith('arn:')) return true;
  const id = withoutGeography(model);
  if (id.startsWith('amazon.nova-')) return true;
  return id.startsWith('anthropic.claude-') && !UNCACHED_CLAUDE.test(id.slice('anthropic.'.length));
}

/** Takes every cache point out of a request for a model that would refuse it. */
export function dropCachePoints(out: Pick<ConverseRequest, 'system' | 'messages'>): void {
  if (out.system) out.system = out.system.filter((b) => !('cachePoint' in b));
  for (const m of out.messages) m.content = m.content.filter((b) => !('cachePoint' in b));
}
