import { GatewayError } from '../../errors.js';
import { headerUnsafe, isHeaderSafe } from '../../http/header-safe.js';
import type { ResolvedTarget } from '../types.js';

/** Reads environment variables; injected so tests never depend on the real process environment. */
export type EnvAccessor = () => Record<string, string | undefined>;

export const processEnv: EnvAccessor = () => globalThis.process?.env ?? {};

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type BedrockAuth = { kind: 'sigv4'; credentials: SigV4Credentials } | { kind: 'bearer'; token: string };

export interface BedrockSettings {
  region: string;
  auth: BedrockAuth;
}

/** Portkey's default when neither the target nor the environment names a region. */
const DEFAULT_REGION = 'us-east-1';
const REGION = /^[a-z]{2}(-[a-z0-9]+)+$/;

const setting = (target: ResolvedTarget, name: string): string | undefined => {
  const v = target.extra[name];
  return typeof v === 'string' && v ? v : undefined;
};

function keyPair(
  id: string | undefined,
  secret: string | undefined,
  token: string | undefined,
  names: [id: string, secret: string],
): SigV4Credentials | undefined {
  if (!id && !secret) {
    // Refused, not skipped: the keys tried next (a Bedrock API key, the environment's) would sign a call meant to carry this session.
    if (token) throw new GatewayError('invalid_config', `${names[0]} is missing: a session token needs the access key id and secret it was issued with`, { param: names[0] });
    return undefined;
  }
  if (!id || !secret) {
    const missing = id ? names[1] : names[0];
    throw new GatewayError('invalid_config', `${missing} is missing: an AWS access key needs both its id and its secret`, { param: missing });
  }
  return token ? { accessKeyId: id, secretAccessKey: secret, sessionToken: token } : { accessKeyId: id, secretAccessKey: secret };
}

/**
 * Region and credentials for one call. Order: the target's AWS keys, then a Bedrock API key
 * (`api_key` or `AWS_BEARER_TOKEN_BEDROCK`, already resolved into `apiKey`), then the AWS keys in the
 * environment — the AWS SDK also prefers the bearer token over environment keys when both are set.
 * The environment is read here, per request, only when the target lacks the setting.
 */
export function resolveSettings(target: ResolvedTarget, env: EnvAccessor): BedrockSettings {
  let vars: Record<string, string | undefined> | undefined;
  // A host the client chose gets only the credentials the client sent.
  const fromEnv = (name: string) => (target.clientHost ? undefined : (vars ??= env())[name] || undefined);
  // The environment is the server's own: a value no request can carry is its fault, whoever asked.
  const envCredential = (name: string) => {
    const value = fromEnv(name);
    if (value !== undefined && !isHeaderSafe(value)) throw headerUnsafe(name, { status: 500, type: 'server_error' });
    return value;
  };
  const region = setting(target, 'aws_region') ?? fromEnv('AWS_REGION') ?? fromEnv('AWS_DEFAULT_REGION') ?? DEFAULT_REGION;
  // The region becomes part of the host name: anything but a region's letters would let a config steer the call elsewhere.
  if (!REGION.test(region)) {
    throw new GatewayError('invalid_config', `${target.path}.aws_region "${region.slice(0, 40)}" is not an AWS region name`, { param: `${target.path}.aws_region` });
  }
  const own = keyPair(setting(target, 'aws_access_key_id'), setting(target, 'aws_secret_access_key'), setting(target, 'aws_session_token'), [
    `${target.path}.aws_access_key_id`,
    `${target.path}.aws_secret_access_key`,
  ]);
  if (own) return { region, auth: { kind: 'sigv4', credentials: own } };
  if (target.apiKey) return { region, auth: { kind: 'bearer', token: target.apiKey } };
  const envKeys = keyPair(envCredential('AWS_ACCESS_KEY_ID'), envCredential('AWS_SECRET_ACCESS_KEY'), envCredential('AWS_SESSION_TOKEN'), [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
  ]);
  if (envKeys) return { region, auth: { kind: 'sigv4', credentials: envKeys } };
  throw new GatewayError(
    'unauthorized',
    `${target.path}: no AWS credentials for bedrock; set aws_access_key_id and aws_secret_access_key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or a Bedrock API key in api_key (or AWS_BEARER_TOKEN_BEDROCK)`,
    { param: `${target.path}.aws_access_key_id` },
  );
}
