type Headers = Record<string, string | string[] | undefined>;

/**
 * Both spellings of each name, built once: a lookup with a freshly concatenated key costs V8 a hash
 * and an internalisation every time (~0.5 µs; a request reads some ten of these headers).
 */
const names = new Map<string, readonly [string, string]>();

function spellings(name: string): readonly [string, string] {
  let pair = names.get(name);
  if (!pair) names.set(name, (pair = [`x-llmux-${name}`, `x-portkey-${name}`]));
  return pair;
}

/** Reads `x-llmux-<name>`, then Portkey's `x-portkey-<name>`, so Portkey SDK clients work unchanged. */
export function gatewayHeader(headers: Headers, name: string): string | undefined {
  const [ours, portkeys] = spellings(name);
  const v = headers[ours] ?? headers[portkeys];
  return Array.isArray(v) ? v[0] : v;
}

export function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export type CacheStatus = 'HIT' | 'SEMANTIC_HIT' | 'MISS' | 'REFRESH' | 'DISABLED';

export interface ResponseFacts {
  traceId: string;
  provider?: string;
  target?: string;
  /** Index among the parent's targets, for Portkey's `x-portkey-last-used-option-index`. */
  targetIndex?: number;
  cache?: CacheStatus;
  retries?: number;
  cost?: number;
}

/** Every response says what happened, under our names and Portkey's. */
export function responseHeaders(f: ResponseFacts, into: Record<string, string> = {}): Record<string, string> {
  into['x-llmux-trace-id'] = f.traceId;
  into['x-portkey-trace-id'] = f.traceId;
  if (f.provider) {
    into['x-llmux-provider'] = f.provider;
    into['x-portkey-provider'] = f.provider;
  }
  if (f.target) into['x-llmux-target'] = f.target;
  if (f.targetIndex !== undefined) into['x-portkey-last-used-option-index'] = String(f.targetIndex);
  if (f.cache) {
    into['x-llmux-cache'] = f.cache;
    into['x-portkey-cache-status'] = f.cache;
  }
  if (f.retries !== undefined) {
    into['x-llmux-retries'] = String(f.retries);
    into['x-portkey-retry-attempt-count'] = String(f.retries);
  }
  if (f.cost !== undefined) into['x-llmux-cost'] = formatCost(f.cost);
  return into;
}

/** A plain decimal (no exponent), so `parseFloat` and humans read it alike. */
export function formatCost(usd: number): string {
  if (!Number.isFinite(usd) || usd <= 0) return '0';
  // Trailing zeros trimmed by hand: two regex replaces cost more than the rest of the header set.
  const fixed = usd.toFixed(10);
  let end = fixed.length;
  while (fixed.charCodeAt(end - 1) === 48) end--;
  if (fixed.charCodeAt(end - 1) === 46) end--;
  return fixed.slice(0, end);
}
