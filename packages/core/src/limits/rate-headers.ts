import type { WindowStatus } from '../store/limit-store.js';
import type { WindowInfo } from './claims.js';
import { formatDuration } from './durations.js';

/**
 * OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for an admitted request. With
 * several limits of one kind (per minute and per day, gateway and user) the tightest one is reported.
 * `remaining` counts what is left after this request.
 */
/** Header names as constants: names built per request are new strings V8 must look up as keys each time. */
const NAMES = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const;

export function rateHeaders(info: readonly WindowInfo[], statuses: readonly WindowStatus[], headers: Record<string, string> = {}): Record<string, string> {
  tightest('requests', info, statuses, headers);
  tightest('tokens', info, statuses, headers);
  return headers;
}

function tightest(metric: 'requests' | 'tokens', info: readonly WindowInfo[], statuses: readonly WindowStatus[], headers: Record<string, string>): void {
  let best: WindowStatus | undefined;
  for (let i = 0; i < info.length; i++) {
    if (info[i]!.metric !== metric) continue;
    const s = statuses[i]!;
    if (!best || s.limit - s.used < best.limit - best.used) best = s;
  }
  if (!best) return;
  const [limit, remaining, reset] = NAMES[metric];
  headers[limit] = String(best.limit);
  headers[remaining] = String(Math.max(0, best.limit - best.used));
  headers[reset] = formatDuration(best.resetMs);
}
