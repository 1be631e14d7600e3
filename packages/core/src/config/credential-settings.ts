import { GatewayError } from '../errors.js';
import { headerUnsafe, isHeaderSafe } from '../http/header-safe.js';
import type { TargetConfig } from './schema.js';

/**
 * Provider settings that sign a request or travel in one of its headers (Bedrock's SigV4 keys). A
 * provider skips a setting that is not a string, so such a value would leave a client's request to
 * be signed with the server's keys instead of the ones it meant to send.
 */
const HEADER_CREDENTIALS = ['aws_access_key_id', 'aws_secret_access_key', 'aws_session_token'] as const;

/**
 * The server's defaults for a target (`options.providers`), less their AWS credentials when the
 * target brings any of its own: its key id must never be paired with the server's secret or session token.
 */
export function defaultsBeside<T extends Record<string, unknown>>(target: TargetConfig, defaults: T): T {
  if (!HEADER_CREDENTIALS.some((name) => target[name] !== undefined && defaults[name] !== undefined)) return defaults;
  const out: Record<string, unknown> = { ...defaults };
  for (const name of HEADER_CREDENTIALS) delete out[name];
  return out as T;
}

export interface CredentialSources {
  /** The target's own settings, named `<path>.<setting>`. */
  target: TargetConfig;
  path: string;
  /** The server's defaults for the provider (`options.providers`), named `providers.<id>.<setting>`. */
  defaults: Record<string, unknown>;
  providerId: string;
  /** A client's config: a bad value from the server's own settings is then the server's fault (500). */
  clientConfig: boolean;
}

/** Refuses, at compile time, credential settings no request could carry; errors name the field, never its value. */
export function checkCredentialSettings({ target, path, defaults, providerId, clientConfig }: CredentialSources): void {
  for (const name of HEADER_CREDENTIALS) {
    const own = target[name] !== undefined;
    const value = own ? target[name] : defaults[name];
    if (value === undefined) continue;
    const source = own ? `${path}.${name}` : `providers.${providerId}.${name}`;
    const fault = clientConfig && !own ? ({ status: 500, type: 'server_error' } as const) : {};
    if (typeof value !== 'string') throw new GatewayError('invalid_config', `${source} must be a string`, { param: source, ...fault });
    if (!isHeaderSafe(value)) throw headerUnsafe(source, fault);
  }
}
