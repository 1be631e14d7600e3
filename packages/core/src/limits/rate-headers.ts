import type { WindowStatus } from '../store/limit-store.js';
import type { WindowInfo } from './claims.js';
import { formatDuration } from './durations.js';

/**
 * OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for an admitted request. With
 * several limits of one kind (per minute and per day, gateway and user) the tightest one is reported.
 * `remaining` counts what is left after this request.
 */
export function rateHeaders(info: readonly WindowInfo[], statuses: readonly WindowStatus[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const metric of ['requests', 'tokens'] as const) {
    let best: WindowStatus | undefined;
    for (let i = 0; i < info.length; i++) {
      if (info[i]!.metric !== metric) continue;
      const s = statuses[i]!;
      if (!best || s.limit - s.used < best.limit - best.used) best = s;
    }
    if (!best) continue;
    headers[`x-ratelimit-limit-${metric}`] = String(best.limit);
    headers[`x-ratelimit-remaining-${metric}`] = String(Math.max(0, best.limit - best.used));
    headers[`x-ratelimit-reset-${metric}`] = formatDuration(best.resetMs);
  }
  return headers;
}
