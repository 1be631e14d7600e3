import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for sockets to client-chosen hosts. The SSRF guard checks a name before routing, but the
 * connection resolves it again — a name that answers "public" first and "127.0.0.1" next (DNS
 * rebinding) would pass. Checking here, on the addresses the socket will actually use, closes that.
 */
export function guardedLookup(
  isBlocked: (address: string) => boolean,
  isAllowedName: (hostname: string) => boolean,
  resolve: typeof lookup = lookup,
) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const bad = isAllowedName(hostname) ? undefined : list.find((a) => isBlocked(a.address));
      if (bad) {
        const error: NodeJS.ErrnoException = new Error(`${hostname} resolved to ${bad.address}, a private, loopback or link-local address`);
        error.code = 'EBLOCKEDADDRESS';
        return callback(error, []);
      }
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
      callback(null, first.address, first.family);
    });
  };
}
