import { it } from 'vitest';
import { appFactories } from './helpers/apps.js';
it('scratch', async () => {
  for (const name of Object.keys(appFactories)) {
    const app = await appFactories[name]!({ config: { targets: [{ provider: 'mock' }] } } as never);
    for (const [label, body, ct] of [['bad json', '{"model": "x", messages: ]', 'application/json'], ['too large', JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'x'.repeat(30_000_000) }] }), 'application/json'], ['bad charset', '{}', 'application/json; charset=foo']] as const) {
      const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': ct }, body }).catch((e) => ({ status: 'ERR ' + e.message, text: async () => '' }) as any);
      console.log(name, label, res.status, (await res.text()).slice(0, 200));
    }
    await app.close();
  }
}, 60000);
