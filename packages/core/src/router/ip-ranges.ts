/**
 * Addresses a request-level `custom_host` must not reach: loopback, private, link-local (cloud
 * metadata at 169.254.169.254), CGNAT, unique-local and multicast, and IPv6 forms that embed an IPv4
 * address (mapped, SIIT-translated, NAT64, 6to4, Teredo) — the usual ways around a v4-only blocklist.
 */
const V4_BLOCKED: Array<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Eight 16-bit groups; accepts `::` compression, a dotted IPv4 tail and a `%zone` suffix. */
export function parseIPv6(input: string): number[] | undefined {
  let s = input.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (!s.includes(':')) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon);
    if (s.endsWith(':')) s += ':';
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string | undefined) => (h ? h.split(':') : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  if (![...head, ...rest].every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  const hex = (list: string[]) => list.map((g) => parseInt(g, 16));
  const n = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (n > 7) return undefined;
    return [...hex(head), ...new Array<number>(8 - n).fill(0), ...hex(rest), ...tail];
  }
  return n === 8 ? [...hex(head), ...tail] : undefined;
}

function v4Blocked(ip: number): boolean {
  return V4_BLOCKED.some(([base, bits]) => {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return ((ip & mask) >>> 0) === ((parseIPv4(base)! & mask) >>> 0);
  });
}

function v6Blocked(g: number[]): boolean {
  const [a, b, c, d, e, f, g6, h] = g as [number, number, number, number, number, number, number, number];
  const embedded = ((g6 << 16) | h) >>> 0;
  if (g.every((x) => x === 0)) return true; // ::
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0) {
    if (f === 0 && g6 === 0 && h === 1) return true; // ::1
    if (f === 0xffff || f === 0) return v4Blocked(embedded); // ::ffff:a.b.c.d and the old ::a.b.c.d
  }
  if (a === 0 && b === 0 && c === 0 && d === 0 && e === 0xffff && f === 0) return v4Blocked(embedded); // SIIT ::ffff:0:a.b.c.d
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return v4Blocked(embedded); // NAT64
  // The local-use NAT64 prefix (RFC 8215) translates into whatever network its operator chose.
  if (a === 0x64 && b === 0xff9b && c === 1) return true;
  if (a === 0x2002) return v4Blocked(((b << 16) | c) >>> 0); // 6to4
  // Teredo: the server's IPv4 in the second and third groups, the client's inverted in the last two.
  if (a === 0x2001 && b === 0) return v4Blocked(((c << 16) | d) >>> 0) || v4Blocked(~embedded >>> 0);
  if ((a & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((a & 0xffc0) === 0xfe80 || (a & 0xffc0) === 0xfec0) return true; // link-local, old site-local
  if ((a & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/** True for an address no request-level host may reach; undefined when `ip` is not an IP literal. */
export function isBlockedAddress(ip: string): boolean | undefined {
  const v4 = parseIPv4(ip);
  if (v4 !== undefined) return v4Blocked(v4);
  const v6 = parseIPv6(ip);
  return v6 ? v6Blocked(v6) : undefined;
}
