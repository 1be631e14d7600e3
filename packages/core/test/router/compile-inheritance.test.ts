import { describe, expect, it } from 'vitest';
import type { PlanNode } from '../../src/config/plan.js';
import type { ResolvedTarget } from '../../src/providers/types.js';
import { isBlockedAddress } from '../../src/router/ip-ranges.js';
import { rootOf } from './helpers.js';

function leaves(node: PlanNode): ResolvedTarget[] {
  return node.kind === 'target' ? [node.target] : node.children.flatMap(leaves);
}

describe('config inheritance', () => {
  const root = rootOf({
    strategy: { mode: 'fallback', on_status_codes: [429, 503] },
    provider: 'openai',
    api_key: 'sk-parent',
    custom_host: 'https://proxy.example/v1',
    retry: { attempts: 2 },
    request_timeout: 5000,
    override_params: { temperature: 0.1, max_tokens: 100 },
    aws_region: 'eu-west-1',
    targets: [
      { override_params: { max_tokens: 200 } },
      {
        strategy: { mode: 'loadbalance' },
        request_timeout: 1000,
        override_params: { top_p: 0.5 },
        targets: [{ weight: 2, retry: { attempts: 0 } }, { provider: 'anthropic', override_params: { temperature: 0.9 } }],
      },
    ],
  });
  const [first, lbA, lbB] = leaves(root);

  it('merges override_params down the tree, the nearer target winning', () => {
    expect(first!.overrideParams).toEqual({ temperature: 0.1, max_tokens: 200 });
    expect(lbA!.overrideParams).toEqual({ temperature: 0.1, max_tokens: 100, top_p: 0.5 });
    expect(lbB!.overrideParams).toEqual({ temperature: 0.9, max_tokens: 100, top_p: 0.5 });
  });

  it('passes retry, request_timeout and provider settings down unless set', () => {
    expect(first!.retry).toEqual({ attempts: 2, useRetryAfter: true });
    expect(lbA!.retry?.attempts).toBe(0);
    expect(first!.requestTimeout).toBe(5000);
    expect(lbA!.requestTimeout).toBe(1000);
    expect(lbB!.extra.aws_region).toBe('eu-west-1');
  });

  it('passes api_key and custom_host only to children of the same provider', () => {
    expect(first!.apiKey).toBe('sk-parent');
    expect(first!.baseURL).toBe('https://proxy.example/v1');
    expect(lbB!.provider).toBe('anthropic');
    expect(lbB!.apiKey).toBeUndefined(); // never the OpenAI key sent to Anthropic
    expect(lbB!.baseURL).toBe('https://api.anthropic.com/v1');
  });

  it('names each target by its JSON path and index', () => {
    expect([first, lbA, lbB].map((t) => [t!.path, t!.index])).toEqual([
      ['config.targets[0]', 0],
      ['config.targets[1].targets[0]', 0],
      ['config.targets[1].targets[1]', 1],
    ]);
    expect(lbA!.weight).toBe(2);
    expect(root.kind === 'strategy' && root.onStatusCodes).toEqual([429, 503]);
  });
});

describe('blocked address ranges', () => {
  it('leaves public addresses alone', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '2001:4860:4860::8888', '2001:0:4136:e378:8000:63bf:f7f7:f7f7']) {
      expect(isBlockedAddress(ip), ip).toBe(false);
    }
  });
  it('blocks private, loopback, link-local, CGNAT and embedded-v4 forms', () => {
    for (const ip of ['10.0.0.1', '127.1.2.3', '169.254.169.254', '100.100.100.200', '::', '::1', 'fe80::1%eth0', 'fc00::1', '64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::1', '::ffff:192.168.0.1',
      // SIIT, local-use NAT64, Teredo to 127.0.0.1 (client bits inverted) and via a private server
      '::ffff:0:a00:1', '64:ff9b:1::a00:1', '2001:0:4136:e378:8000:63bf:80ff:fffe', '2001:0:a00:1::1']) {
      expect(isBlockedAddress(ip), ip).toBe(true);
    }
    expect(isBlockedAddress('example.com')).toBeUndefined();
  });
});
