import { GatewayError } from '../errors.js';
import { gatewayHeader, sentName } from '../http/headers.js';
import type { ResolvedTarget } from '../providers/types.js';
import type { GatewayRequest } from '../types.js';

/**
 * Headers never forwarded from a client to an upstream, whoever asks: `host` would pick another
 * virtual host behind the provider's address (with the server's key), the hop-by-hop ones describe
 * the client's connection, not the upstream's, and `accept-encoding` would get an answer the gateway
 * cannot read. The config schema refuses them in `forward_headers` too.
 */
export const NOT_FORWARDABLE = new Set([
  'host',
  // The gateway reads the upstream's answer itself and asks for no encoding it does not decode.
  'accept-encoding',
  'connection',
  'content-length',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'keep-alive',
  'expect',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-connection',
]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Per-request attempt settings Portkey clients send as headers (the portkey-ai SDK's `requestTimeout`
 * and `forwardHeaders`). A timeout only ever shortens the target's own; forwarding client headers is
 * choosing what goes upstream, so it needs `allowRequestConfig` like a config header does.
 */
export interface AttemptOverrides {
  /** `x-portkey-request-timeout`, ms: each attempt's limit, never above the target's. */
  requestTimeout?: number;
  /** `x-portkey-forward-headers`: more client headers to send upstream, lower-cased. */
  forwardHeaders?: string[];
}

export function attemptOverrides(req: GatewayRequest, allowRequestConfig: boolean): AttemptOverrides | undefined {
  const timeout = gatewayHeader(req.headers, 'request-timeout');
  const forward = gatewayHeader(req.headers, 'forward-headers');
  if (timeout === undefined && forward === undefined) return undefined;
  const out: AttemptOverrides = {};
  if (timeout !== undefined) {
    const text = timeout.trim();
    const ms = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(ms) || ms < 1) {
      const param = sentName(req, 'request-timeout');
      throw new GatewayError('invalid_request', `${param} must be a whole number of milliseconds above 0`, { param });
    }
    out.requestTimeout = ms;
  }
  if (forward !== undefined) {
    const param = sentName(req, 'forward-headers');
    if (!allowRequestConfig) throw new GatewayError('request_config_not_allowed', `this gateway does not accept ${param} from clients`, { param });
    const names = forward.split(',').map((n) => n.trim().toLowerCase()).filter(Boolean);
    for (const name of names) {
      if (!TOKEN.test(name)) throw new GatewayError('invalid_request', `${param}: "${name.slice(0, 64)}" is not a header name`, { param });
      if (NOT_FORWARDABLE.has(name)) throw new GatewayError('invalid_request', `${param}: "${name}" is never forwarded upstream`, { param });
    }
    if (names.length) out.forwardHeaders = names;
  }
  return out;
}

/** An attempt's time limit, ms: the target's `request_timeout`, shortened by the request's header. */
export function attemptTimeout(target: ResolvedTarget, o: AttemptOverrides | undefined): number | undefined {
  const own = target.requestTimeout;
  const asked = o?.requestTimeout;
  return asked === undefined ? own : own === undefined ? asked : Math.min(own, asked);
}

/**
 * Timeouts the request's own `x-portkey-request-timeout` made shorter than the target's: they say
 * nothing of the upstream, so they never count against the circuit (one client's 1 ms timeouts
 * would open it for every other), whatever status lists the breaker counts.
 */
const shortened = new WeakSet<object>();

export const markShortenedByClient = (e: object): void => void shortened.add(e);

export const shortenedByClient = (e: unknown): boolean => typeof e === 'object' && e !== null && shortened.has(e);
