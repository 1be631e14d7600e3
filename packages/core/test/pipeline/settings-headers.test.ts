import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { firstSent, readSettingsHeaders, settingsFor } from '../../src/pipeline/settings-headers.js';

describe('provider settings headers', () => {
  it('finds none on an ordinary request (no map built)', () => {
    expect(readSettingsHeaders({ 'content-type': 'application/json', 'x-stainless-os': 'Linux', 'x-portkey-provider': 'bedrock' })).toBeUndefined();
  });

  it('maps the headers of the named provider to its config settings; x-llmux- wins, empty values are absent', () => {
    const found = readSettingsHeaders({
      'x-portkey-aws-region': 'us-east-1',
      'x-llmux-aws-region': 'eu-west-3',
      'x-portkey-aws-access-key-id': 'AKIAEXAMPLE',
      'x-portkey-aws-secret-access-key': 'secret',
      'x-portkey-aws-session-token': '  ',
    })!;
    expect(settingsFor(found, 'bedrock', 'x-portkey-provider')).toEqual({ aws_region: 'eu-west-3', aws_access_key_id: 'AKIAEXAMPLE', aws_secret_access_key: 'secret' });
    const azure = readSettingsHeaders({ 'x-portkey-azure-api-version': '2024-06-01' })!;
    expect(settingsFor(azure, 'azure-openai', 'x-portkey-provider')).toEqual({ api_version: '2024-06-01' });
    expect(settingsFor(azure, 'azure-ai', 'x-portkey-provider')).toEqual({ api_version: '2024-06-01' });
  });

  it('refuses a header that is not the named provider’s (or with no provider, or a prototype name), naming it', () => {
    const found = readSettingsHeaders({ 'x-portkey-vertex-project-id': 'p' })!;
    expect(firstSent(found)).toBe('x-portkey-vertex-project-id');
    for (const provider of ['bedrock', undefined, 'constructor']) {
      const e = (() => {
        try {
          settingsFor(found, provider, 'x-portkey-provider');
        } catch (err) {
          return err;
        }
      })() as GatewayError;
      expect(e).toBeInstanceOf(GatewayError);
      expect({ code: e.code, param: e.param }).toEqual({ code: 'invalid_request', param: 'x-portkey-vertex-project-id' });
    }
  });
});
