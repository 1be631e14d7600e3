// Which observability sinks a bench app keeps: with `defaults` among its features the gateway's
// defaults (logger, metrics, tracing), narrowed to `only` (a comma list, from MICRO_SINKS or
// APP_SINKS) to cost one sink at a time; without it, every sink off, as the floors have none.
const SINKS = ['logger', 'metrics', 'tracing'];

export function sinkOptions(defaults, only) {
  if (!defaults) return Object.fromEntries(SINKS.map((s) => [s, false]));
  const kept = only?.split(',');
  return Object.fromEntries(SINKS.filter((s) => kept && !kept.includes(s)).map((s) => [s, false]));
}
