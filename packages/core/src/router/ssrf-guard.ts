import { LRUCache } from 'lru-cache';
import type { Plan } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { isBlockedAddress } from './ip-ranges.js';
import type { ResolveHost } from './routing-options.js';
import type { ConnectGuard } from '../upstream/client.js';

/** A `custom_host` that came from a client (a request-level config or header), with its config path. */
export interface RequestHost {
  url: URL;
  param: string;
}

/** Request-level plans and the client-chosen hosts in them; server-config hosts are trusted. */
const hostsByPlan = new WeakMap<Plan, RequestHost[]>();

export const markRequestHosts = (plan: Plan, hosts: RequestHost[]) => {
  if (hosts.length) hostsByPlan.set(plan, hosts);
};

export const requestHostsOf = (plan: Plan): RequestHost[] | undefined => hostsByPlan.get(plan);

const hostnameOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').toLowerCase();

/** `options.allowedHosts`: exact names or IPs, `host:port`, or `*.suffix`. */
export function isAllowedHost(url: URL, allowed: readonly string[]): boolean {
  const host = hostnameOf(url);
  return allowed.some((raw) => {
    const entry = raw.toLowerCase().replace(/^\[|\]$/g, '');
    if (entry.startsWith('*.')) return host.endsWith(entry.slice(1));
    return entry === host || entry === url.host.toLowerCase();
  });
}

const forbidden = (h: RequestHost, why: string) =>
  new GatewayError('forbidden', `${h.param}: ${why}; a client-supplied host may not reach it unless options.allowedHosts lists it`, { param: h.param });

/** Checked once when the request-level config is compiled: an http(s) URL without credentials. */
export function parseRequestHost(raw: string, param: string): RequestHost {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new GatewayError('invalid_config', `${param} is not a URL`, { param });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GatewayError('invalid_config', `${param} must be an http(s) URL, not ${url.protocol}`, { param });
  }
  if (url.username || url.password) throw new GatewayError('invalid_config', `${param} must not carry credentials`, { param });
  return { url, param };
}

/**
 * What needs no DNS: IP literals (WHATWG URL parsing already turned `0x7f.1` and `2130706433` into
 * `127.0.0.1`) and `localhost`. Returns true when the name still has to be resolved.
 */
function checkLiteral(h: RequestHost): boolean {
  const host = hostnameOf(h.url);
  const blocked = isBlockedAddress(host);
  if (blocked) throw forbidden(h, `${host} is a private, loopback or link-local address`);
  if (host === 'localhost' || host.endsWith('.localhost')) throw forbidden(h, `${host} is the gateway's own machine`);
  return blocked === undefined;
}

/** A few seconds of memory per resolver: DNS answers for one host are asked once per burst, not per request. */
const caches = new WeakMap<ResolveHost, LRUCache<string, string[]>>();
const cacheFor = (resolve: ResolveHost) => {
  let c = caches.get(resolve);
  if (!c) caches.set(resolve, (c = new LRUCache<string, string[]>({ max: 1000, ttl: 30_000 })));
  return c;
};

/**
 * Runs right before routing: refuses a client-supplied host that is, or resolves to, a blocked address.
 * Names that fail to resolve are refused too: the call could not reach them anyway, and a failing
 * resolver must not open the guard.
 */
export async function checkRequestHosts(hosts: RequestHost[], allowed: readonly string[], resolve: ResolveHost): Promise<void> {
  const resolved = cacheFor(resolve);
  await Promise.all(
    hosts.map(async (h) => {
      if (isAllowedHost(h.url, allowed) || !checkLiteral(h)) return;
      const host = hostnameOf(h.url);
      let addresses = resolved.get(host);
      if (!addresses) {
        try {
          addresses = await resolve(host);
        } catch {
          throw new GatewayError('invalid_config', `${h.param}: ${host} could not be resolved`, { param: h.param });
        }
        resolved.set(host, addresses);
      }
      if (addresses.length === 0) throw new GatewayError('invalid_config', `${h.param}: ${host} has no address`, { param: h.param });
      const bad = addresses.find((a) => isBlockedAddress(a) !== false);
      if (bad) throw forbidden(h, `${host} resolves to ${bad}, a private, loopback or link-local address`);
    }),
  );
}

/** The same rules, applied again by the socket to the addresses it connects to (DNS rebinding). */
export function connectGuard(allowed: readonly string[]): ConnectGuard {
  return {
    isBlocked: (address) => isBlockedAddress(address) !== false,
    isAllowedName: (hostname) => isAllowedHost(new URL(`http://${hostname.includes(':') ? `[${hostname}]` : hostname}`), allowed),
  };
}
