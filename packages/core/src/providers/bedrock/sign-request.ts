import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import type { UpstreamRequest } from '../types.js';
import type { BedrockSettings } from './settings.js';

/** The SigV4 signing name of every Bedrock runtime operation (not the `bedrock-runtime` host prefix). */
const SERVICE = 'bedrock';

/**
 * Adds authentication to a request. SigV4 signs the URL actually called — also a `custom_host` — so a
 * proxy in front of Bedrock that forwards the host it received still verifies; `host` is signed and
 * then left for the HTTP client to send, which writes the same value.
 */
export async function authorize(req: UpstreamRequest, settings: BedrockSettings, signingDate?: Date): Promise<UpstreamRequest> {
  const { auth, region } = settings;
  if (auth.kind === 'bearer') return { ...req, headers: { ...req.headers, authorization: `Bearer ${auth.token}` } };
  const url = new URL(req.url);
  const signer = new SignatureV4({ credentials: auth.credentials, region, service: SERVICE, sha256: Sha256 });
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { ...req.headers, host: url.host },
      body: req.body,
    },
    signingDate ? { signingDate } : {},
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) if (k !== 'host') headers[k] = String(v);
  return { ...req, headers };
}
