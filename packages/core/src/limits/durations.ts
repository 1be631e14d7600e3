/** A duration the way OpenAI's `x-ratelimit-reset-*` headers write it: `850ms`, `12s`, `1m30s`, `2h0m5s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/** `60000` → `minute`, `86400000` → `day`, for messages. */
export function windowName(ms: number): string {
  if (ms === 60_000) return 'minute';
  if (ms === 86_400_000) return 'day';
  return `${ms / 1000} s`;
}
