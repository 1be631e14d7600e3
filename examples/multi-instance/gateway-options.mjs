/**
 * What both instances share: the Redis store (same URL, same prefix), a budget for the whole gateway
 * and a rate limit per user. The built-in `mock` provider answers locally; the `pricing` option gives
 * its model a price so the budget has something to count.
 */
import { createRedisStore } from '@llmux/redis';

export function gatewayOptions(env = process.env) {
  return {
    store: createRedisStore({ url: env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix: env.LLMUX_PREFIX ?? 'llmux-example:' }),
    pricing: { 'mock-1': { input: 50, output: 200 } },
    // Budgets reserve a request's worst case up front: without max_tokens that is 4096 output tokens
    // ($0.82 here), over the whole $0.05 day. The mock answers in a few dozen tokens.
    limitOptions: { defaultMaxTokens: 100 },
    adminKey: env.LLMUX_ADMIN_KEY ?? 'example-admin-key',
    config: {
      targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }],
      budget: { max_cost_per_day: 0.05 },
      rate_limit: { requests_per_minute: 5, scope: 'user' },
    },
    // A header stands in for the app's real authentication.
    identify: (req) => ({ user: req.get('x-user-id') }),
  };
}
