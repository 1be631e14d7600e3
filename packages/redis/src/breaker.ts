import type { BreakerDecision, BreakerPolicy, BreakerState, BreakerStatus, BreakerStore } from '@llmux/core';
import type { RedisClientType } from 'redis';
import { luaScript } from './run-script.js';

/*
 * One circuit = a hash (state `c`/`o`/`h`, `ou` open-until, `tu` trial-until) and a sorted set of
 * failure times in the window. Each operation is one script, so the half-open trial is granted to
 * exactly one caller across every instance, and concurrent failures never lose a count.
 * Both keys share a hash tag, so the script also runs on Redis Cluster.
 */
const PRELUDE = `
local now, window, cooldown, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local function fmt(n) return string.format('%.0f', n) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now - window))
local h = redis.call('HMGET', KEYS[1], 's', 'ou', 'tu')
local s, ou, tu = h[1] or 'c', tonumber(h[2] or '0'), tonumber(h[3] or '0')
local function keep() redis.call('PEXPIRE', KEYS[1], fmt(2 * cooldown + window)) end
`;

const ACQUIRE = `${PRELUDE}
local allowed = 1
if s == 'o' then
  if now >= ou then
    s, tu = 'h', now + cooldown
    redis.call('HSET', KEYS[1], 's', 'h', 'tu', fmt(tu))
    keep()
  else
    allowed = 0
  end
elseif s == 'h' then
  if now >= tu then
    tu = now + cooldown
    redis.call('HSET', KEYS[1], 'tu', fmt(tu))
    keep()
  else
    allowed = 0
  end
end
return { s, allowed, redis.call('ZCARD', KEYS[2]), fmt(ou), fmt(tu) }
`;

const RECORD = `${PRELUDE}
if ARGV[5] == '1' then
  if s == 'h' then
    redis.call('DEL', KEYS[1], KEYS[2])
    s = 'c'
  end
elseif s == 'h' then
  s, ou = 'o', now + cooldown
  redis.call('HSET', KEYS[1], 's', 'o', 'ou', fmt(ou))
  keep()
elseif s == 'c' then
  redis.call('ZADD', KEYS[2], fmt(now), ARGV[6])
  redis.call('PEXPIRE', KEYS[2], fmt(window))
  if redis.call('ZCARD', KEYS[2]) >= threshold then
    s, ou = 'o', now + cooldown
    redis.call('HSET', KEYS[1], 's', 'o', 'ou', fmt(ou))
    redis.call('DEL', KEYS[2])
    keep()
  end
end
return { s, 0, redis.call('ZCARD', KEYS[2]), fmt(ou) }
`;

const RELEASE = `${PRELUDE}
if s == 'h' and (ARGV[5] == '' or tu == tonumber(ARGV[5])) then redis.call('HSET', KEYS[1], 'tu', '0') end
return 0
`;

const STATES: Record<string, BreakerState> = { c: 'closed', o: 'open', h: 'half_open' };

function toStatus(reply: unknown): BreakerDecision {
  const [s, allowed, failures, openUntil, trialUntil] = reply as [string, number, number, string, string | undefined];
  const state = STATES[s] ?? 'closed';
  const out: BreakerDecision = { state, allowed: allowed === 1, failures: Number(failures) };
  if (state !== 'closed') out.openUntil = Number(openUntil);
  if (out.allowed && state === 'half_open' && trialUntil !== undefined) out.trialUntil = Number(trialUntil);
  return out;
}

/** The circuit breaker on Redis, shared by every instance using the same prefix. */
export function redisBreaker(client: RedisClientType, prefix: string, ready: Promise<void>): BreakerStore {
  // The limits' loader: a load that failed while Redis was down is retried on the next call, not kept.
  const acquire = luaScript(client, ACQUIRE);
  const record = luaScript(client, RECORD);
  const release = luaScript(client, RELEASE);
  const keys = (key: string) => [`${prefix}{${key}}`, `${prefix}{${key}}:f`];
  const args = (now: number, p: BreakerPolicy) => [String(Math.floor(now)), String(p.windowMs), String(p.cooldownMs), String(p.threshold)];
  return {
    async breakerAcquire(key, now, policy): Promise<BreakerDecision> {
      await ready;
      return toStatus(await acquire(keys(key), args(now, policy)));
    },
    async breakerRelease(key, now, policy, lease): Promise<void> {
      await ready;
      await release(keys(key), [...args(now, policy), lease === undefined ? '' : String(Math.floor(lease))]);
    },
    async breakerRecord(key, ok, now, policy): Promise<BreakerStatus> {
      await ready;
      const member = `${now}:${Math.random().toString(36).slice(2)}`;
      const { allowed: _allowed, ...status } = toStatus(await record(keys(key), [...args(now, policy), ok ? '1' : '0', member]));
      return status;
    },
  };
}
