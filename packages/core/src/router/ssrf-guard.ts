import { LRUCache } from 'lru-cache';
import type { Plan } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { isBlockedAddress } from './ip-ranges.js';
import type { ResolveHost } from './routing-options.js';
import type { ResolvedTarget } from '../providers/types.js';
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

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** One `allowedHosts` entry: a host (no brackets, lower case) or `*.suffix`, and maybe a port. */
interface AllowedEntry {
  host: string;
  suffix: boolean;
  port?: string;
}

/** `[::1]:8080`, `[::1]`, `::1` (a bare IPv6 address has no port), `localhost:8080`, `*.example.com`. */
function parseEntry(raw: string): AllowedEntry {
  const text = raw.trim().toLowerCase();
  let host = text;
  let port: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else if (text.indexOf(':') !== -1 && text.indexOf(':') === text.lastIndexOf(':')) {
    [host, port] = text.split(':') as [string, string];
  }
  const suffix = host.startsWith('*.');
  return { host: suffix ? host.slice(1) : host, suffix, ...(port ? { port } : {}) };
}

/** Entries are parsed once per list: the list is the server's options, the same array on every request. */
const parsedLists = new WeakMap<readonly string[], AllowedEntry[]>();
function entriesOf(allowed: readonly string[]): AllowedEntry[] {
  let entries = parsedLists.get(allowed);
  if (!entries) parsedLists.set(allowed, (entries = allowed.map(parseEntry)));
  return entries;
}

const namesHost = (e: AllowedEntry, host: string) => (e.suffix ? host.endsWith(e.host) : e.host === host);

/**
 * `options.allowedHosts`: exact names or IPs (`10.0.0.5`, `::1` or `[::1]`), `host:port` (`[::1]:8080`),
 * or `*.suffix`. An entry without a port matches the host on any port; one with a port only that port
 * (the scheme's default when the URL names none).
 */
export function isAllowedHost(url: URL, allowed: readonly string[]): boolean {
  if (allowed.length === 0) return false;
  const host = hostnameOf(url);
  const port = url.port || DEFAULT_PORTS[url.protocol];
  return entriesOf(allowed).some((e) => namesHost(e, host) && (e.port === undefined || e.port === port));
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
 * Why the pre-check let a client-chosen host through: `listed` (allowedHosts names it) or `public` (every
 * address it resolved to is public, so a later connection must find the same). Hosts belong to one
 * gateway's plans, and its allowedHosts never change, so the answer holds for every later request.
 */
export type HostStanding = 'listed' | 'public';
const standings = new WeakMap<RequestHost, HostStanding>();
/** Client-chosen targets and their host, linked by the config compiler. */
const targetHosts = new WeakMap<ResolvedTarget, RequestHost>();

export const linkTargetHost = (target: ResolvedTarget, host: RequestHost): void => void targetHosts.set(target, host);

/**
 * Runs right before routing: refuses a client-supplied host that is, or resolves to, a blocked address.
 * Names that fail to resolve are refused too: the call could not reach them anyway, and a failing
 * resolver must not open the guard.
 */
export async function checkRequestHosts(hosts: RequestHost[], allowed: readonly string[], resolve: ResolveHost): Promise<void> {
  const resolved = cacheFor(resolve);
  await Promise.all(
    hosts.map(async (h) => {
      if (isAllowedHost(h.url, allowed)) return void standings.set(h, 'listed');
      if (!checkLiteral(h)) return void standings.set(h, 'public');
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
      standings.set(h, 'public');
    }),
  );
}

/**
 * For a call a provider makes on its own to a client-chosen target's host (Vertex's token exchange),
 * which the upstream client does not carry: how the pre-check judged that host, or undefined when it
 * never judged it (the caller must then refuse).
 */
export function standingOf(target: ResolvedTarget): HostStanding | undefined {
  const host = targetHosts.get(target);
  return host && standings.get(host);
}

/**
 * The same rules, applied again by the socket to the addresses it connects to (DNS rebinding). The
 * socket's lookup sees a name without its port, so a name listed with any port counts here: the port
 * itself was held to its entry before routing (checkRequestHosts), which every client-chosen host passes.
 */
export function connectGuard(allowed: readonly string[]): ConnectGuard {
  const entries = entriesOf(allowed);
  return {
    isBlocked: (address) => isBlockedAddress(address) !== false,
    isAllowedName: (hostname) => {
      const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
      return entries.some((e) => namesHost(e, host));
    },
  };
}
