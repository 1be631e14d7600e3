import { GatewayError } from '../../errors.js';

import { parseDataUrl } from '../data-url.js';

/**
 * Splits a base64 `data:` URL into its media type and payload. Bedrock takes only inline bytes (or S3),
 * so remote `http(s)` URLs are refused rather than fetched: fetching them would let a client make the
 * gateway call arbitrary hosts.
 */
export function parseDataURL(url: string, param: string): { mediaType: string; base64: string } {
  const d = parseDataUrl(url);
  if (!d?.base64 || !d.mediaType.includes('/')) {
    const what = /^https?:/i.test(url) ? 'a remote URL' : 'not a base64 data URL';
    throw new GatewayError('invalid_request', `${param} is ${what}; bedrock accepts files as base64 data URLs (data:<type>;base64,…)`, { param });
  }
  return { mediaType: d.mediaType, base64: d.payload.replace(/\s+/g, '') };
}
