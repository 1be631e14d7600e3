import { GatewayError } from '../errors.js';

type Headers = Record<string, string | string[] | undefined>;

/**
 * Portkey's provider-settings headers (what the portkey-ai SDK sends for `awsAccessKeyId`,
 * `azureResourceName`, `vertexProjectId`, …) and the config setting each stands for, by the provider
 * they belong to. They shape the target `x-portkey-provider` builds, as Portkey reads them
 * (`constructConfigFromRequestHeaders`).
 */
const SETTINGS_BY_PROVIDER: Record<string, ReadonlyArray<readonly [header: string, setting: string]>> = {
  bedrock: [
    ['aws-access-key-id', 'aws_access_key_id'],
    ['aws-secret-access-key', 'aws_secret_access_key'],
    ['aws-session-token', 'aws_session_token'],
    ['aws-region', 'aws_region'],
  ],
  'azure-openai': [
    ['azure-resource-name', 'resource_name'],
    ['azure-deployment-id', 'deployment_id'],
    ['azure-api-version', 'api_version'],
  ],
  'azure-ai': [
    ['azure-api-version', 'api_version'],
    ['azure-extra-params', 'azure_extra_params'],
  ],
  'vertex-ai': [
    ['vertex-project-id', 'vertex_project_id'],
    ['vertex-region', 'vertex_region'],
    ['vertex-service-account-json', 'vertex_service_account_json'],
  ],
};

/** Each header (without its `x-llmux-` / `x-portkey-` prefix) → the providers it applies to. */
const PROVIDERS_BY_HEADER = new Map<string, string[]>();
for (const [provider, pairs] of Object.entries(SETTINGS_BY_PROVIDER)) {
  for (const [header] of pairs) PROVIDERS_BY_HEADER.set(header, [...(PROVIDERS_BY_HEADER.get(header) ?? []), provider]);
}

/** Settings headers a request carries: unprefixed name → the value and the name as sent. */
export type SettingsHeaders = Map<string, { value: string; sent: string }>;

const PREFIXES = ['x-llmux-', 'x-portkey-'] as const;

/**
 * The settings headers present, or undefined (most requests: no allocation). `x-llmux-` wins over
 * `x-portkey-`, as for every other gateway header; an empty value counts as absent.
 */
export function readSettingsHeaders(headers: Headers): SettingsHeaders | undefined {
  let found: SettingsHeaders | undefined;
  for (const sent in headers) {
    // Only `x-l…` / `x-p…` names can match: most headers are passed over on three char codes.
    if (sent.charCodeAt(0) !== 120 || sent.charCodeAt(1) !== 45) continue;
    const third = sent.charCodeAt(2);
    if (third !== 108 && third !== 112) continue;
    const prefix = PREFIXES.find((p) => sent.startsWith(p));
    if (prefix === undefined) continue;
    const name = sent.slice(prefix.length);
    if (!PROVIDERS_BY_HEADER.has(name)) continue;
    const raw = headers[sent];
    const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    if (!value || (prefix === 'x-portkey-' && found?.has(name))) continue;
    (found ??= new Map()).set(name, { value, sent });
  }
  return found;
}

/** The name of one header present, for an error refusing them all. */
export const firstSent = (found: SettingsHeaders): string => found.values().next().value!.sent;

/**
 * The config settings the headers give the target of `x-portkey-provider` (`provider`: its canonical
 * id, undefined when none was sent). A header for another provider is refused, not dropped: a client
 * that sent its own AWS keys must never be answered on the server's.
 */
export function settingsFor(found: SettingsHeaders, provider: string | undefined, providerHeaderName: string): Record<string, string> {
  const settings: Record<string, string> = {};
  // Own keys only: a client's `x-portkey-provider: constructor` must not find Object.prototype's.
  const pairs = provider !== undefined && Object.hasOwn(SETTINGS_BY_PROVIDER, provider) ? SETTINGS_BY_PROVIDER[provider] : undefined;
  for (const [name, { value, sent }] of found) {
    const setting = pairs?.find(([header]) => header === name)?.[1];
    if (setting === undefined) {
      const owners = PROVIDERS_BY_HEADER.get(name)!.join(' or ');
      throw new GatewayError('invalid_request', `${sent} applies only with ${providerHeaderName}: ${owners}`, { param: sent });
    }
    settings[setting] = value;
  }
  return settings;
}
