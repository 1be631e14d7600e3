import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient } from '../../src/upstream/client.js';
import { connectGuard } from '../../src/router/ssrf-guard.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

/** A resolver that says what a rebinding DNS server would say at connect time: loopback. */
const rebinding = (_host: string, _opts: unknown, cb: (e: null, a: LookupAddress[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]);

describe('connections to client-chosen hosts', () => {
  let upstream: MockUpstream;
  let port: string;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    upstream.route('/v1/x', { json: { ok: true } });
    port = new URL(upstream.url).port;
  });
  afterAll(() => upstream.close());

  const get = (client: UpstreamClient, clientHost: boolean) =>
    client.send({ url: `http://rebind.example:${port}/v1/x`, method: 'GET', headers: {} }, new AbortController().signal, clientHost);

  it('refuses a name that resolves to a private address when the socket connects (DNS rebinding)', async () => {
    const client = new UpstreamClient({}, { ...connectGuard([]), resolve: rebinding });
    await expect(get(client, true)).rejects.toThrow(/127\.0\.0\.1, a private, loopback or link-local address/);
    expect(upstream.requests).toHaveLength(0);
    await client.close();
  });

  it('lets the name through when allowedHosts lists it', async () => {
    const client = new UpstreamClient({}, { ...connectGuard(['rebind.example']), resolve: rebinding });
    const res = await get(client, true);
    expect(res.status).toBe(200);
    await res.dump();
    await client.close();
  });
});
