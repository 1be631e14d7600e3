/*
 * Budget counters and sliding-window logs as Lua scripts: each runs atomically inside Redis, so every
 * instance sees one consistent order of admissions — no read-then-write race, no limit multiplied by
 * the number of replicas. Time comes from Redis (`TIME`), not from each instance's clock.
 *
 * Per counter: a hash (`spent`, `reserved`, and `r:<id>` → amount per live reservation) and a sorted
 * set of reservation ids scored by expiry, cleaned at each admission — a reservation whose instance
 * crashed stops counting on its own. Per window: a sorted set of entry ids scored by time and a hash
 * of their amounts with the running `#sum` and the window length `#win`.
 *
 * Amounts are integers (nano-USD, tokens, requests) written with `%.0f`: Lua's `tostring` would turn
 * large numbers into `1e+15`, which HINCRBY rejects.
 */

const COMMON = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fmt(n) return string.format('%.0f', n) end
local function expire_reservations(c, x)
  local ids = redis.call('ZRANGEBYSCORE', x, '-inf', fmt(now))
  if #ids == 0 then return end
  local freed = 0
  for i = 1, #ids do
    local f = 'r:' .. ids[i]
    local a = redis.call('HGET', c, f)
    if a then
      freed = freed + tonumber(a)
      redis.call('HDEL', c, f)
    end
  end
  redis.call('ZREMRANGEBYSCORE', x, '-inf', fmt(now))
  if freed ~= 0 then redis.call('HINCRBY', c, 'reserved', fmt(-freed)) end
end
local function slide(w, a, floor)
  local ids = redis.call('ZRANGEBYSCORE', w, '-inf', fmt(floor))
  if #ids == 0 then return end
  local gone = 0
  for i = 1, #ids do
    local v = redis.call('HGET', a, ids[i])
    if v then
      gone = gone + tonumber(v)
      redis.call('HDEL', a, ids[i])
    end
  end
  redis.call('ZREMRANGEBYSCORE', w, '-inf', fmt(floor))
  redis.call('HINCRBY', a, '#sum', fmt(-gone))
end
`;

/**
 * KEYS: per counter (hash, expiries), then per window (entries, amounts).
 * ARGV: id, ttlMs, #counters, #windows, per counter (amount, limit, expireAt), per window (amount, limit, windowMs).
 * Returns {1, used1, reset1, used2, reset2, …} or {0, 'window', index, used, limit, retryAfterMs, used1, reset1, …}
 * or {0, 'counter', index, spent, reserved, limit, used1, reset1, used2, reset2, …}.
 * Every window is checked: a window refusal names the one that frees up last (the longest wait), so a
 * retry after it finds room in all of them. Every counter is checked too, and a counter refusal names
 * the one `laterRefusal` of @llmux/core would. A counter refusal carries each window's state (nothing
 * consumed: used without this request, reset 0 for an empty window), as the windows passed their check.
 */
export const ADMIT = `${COMMON}
local id, ttl, nc, nw = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wargs = 4 + 3 * nc
local useds = {}
local denied = nil
-- A refusal carries every window's state (nothing consumed): used, and ms until its oldest entry leaves.
local function with_window_states(out)
  for j = 1, nw do
    local w = KEYS[2 * nc + 2 * j - 1]
    local win = tonumber(ARGV[wargs + 3 * (j - 1) + 3])
    local oldest = redis.call('ZRANGE', w, 0, 0, 'WITHSCORES')
    out[#out + 1] = fmt(useds[j])
    out[#out + 1] = oldest[2] and fmt(tonumber(oldest[2]) + win - now) or '0'
  end
  return out
end
for i = 1, nw do
  local w, a = KEYS[2 * nc + 2 * i - 1], KEYS[2 * nc + 2 * i]
  local o = wargs + 3 * (i - 1)
  local amount, limit, win = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  slide(w, a, now - win)
  local used = tonumber(redis.call('HGET', a, '#sum') or '0')
  useds[i] = used
  if used + amount > limit then
    local retry = win
    if amount <= limit then
      -- Oldest first, in pages: the excess is usually one request, found in the first page.
      local excess, freed, from, found = used + amount - limit, 0, 0, false
      while not found do
        local entries = redis.call('ZRANGE', w, from, from + 99, 'WITHSCORES')
        if #entries == 0 then break end
        for j = 1, #entries, 2 do
          freed = freed + tonumber(redis.call('HGET', a, entries[j]) or '0')
          if freed >= excess then
            retry = math.max(1, tonumber(entries[j + 1]) + win - now + 1)
            found = true
            break
          end
        end
        from = from + 100
      end
    end
    if denied == nil or retry > denied[6] then denied = {0, 'window', i - 1, used, limit, retry} end
  end
end
if denied ~= nil then
  return with_window_states({0, 'window', denied[3], fmt(denied[4]), fmt(denied[5]), fmt(denied[6])})
end
local refused, refusedSpentFull, refusedEnd = nil, false, 0
for i = 1, nc do
  local c, x = KEYS[2 * i - 1], KEYS[2 * i]
  local o = 4 + 3 * (i - 1)
  local amount, limit, ends = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  expire_reservations(c, x)
  local v = redis.call('HMGET', c, 'spent', 'reserved')
  local spent, reserved = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  if spent + reserved + amount > limit then
    -- As laterRefusal (@llmux/core): one full of money spent before one full of requests in flight, then the later window end.
    local spentFull = spent + amount > limit
    if refused == nil or (spentFull and not refusedSpentFull) or (spentFull == refusedSpentFull and ends > refusedEnd) then
      refused, refusedSpentFull, refusedEnd = {0, 'counter', i - 1, fmt(spent), fmt(reserved), fmt(limit)}, spentFull, ends
    end
  end
end
if refused ~= nil then return with_window_states(refused) end
local out = {1}
for i = 1, nw do
  local w, a = KEYS[2 * nc + 2 * i - 1], KEYS[2 * nc + 2 * i]
  local o = wargs + 3 * (i - 1)
  local amount, win = ARGV[o + 1], ARGV[o + 3]
  redis.call('ZADD', w, fmt(now), id)
  redis.call('HSET', a, id, amount, '#win', win)
  local used = redis.call('HINCRBY', a, '#sum', amount)
  redis.call('PEXPIRE', w, win)
  redis.call('PEXPIRE', a, win)
  local oldest = redis.call('ZRANGE', w, 0, 0, 'WITHSCORES')
  out[#out + 1] = fmt(used)
  out[#out + 1] = fmt(tonumber(oldest[2]) + tonumber(win) - now)
end
local expires = fmt(now + ttl)
for i = 1, nc do
  local c, x = KEYS[2 * i - 1], KEYS[2 * i]
  local o = 4 + 3 * (i - 1)
  local amount, expire_at = ARGV[o + 1], ARGV[o + 3]
  redis.call('HSET', c, 'r:' .. id, amount)
  redis.call('HINCRBY', c, 'reserved', amount)
  redis.call('ZADD', x, expires, id)
  redis.call('PEXPIREAT', c, expire_at)
  redis.call('PEXPIREAT', x, expire_at)
end
return out
`;

/**
 * KEYS: as ADMIT. ARGV: id, #counters, #windows, retry ('1' or '0'), per counter (actual, expireAt),
 * per window (amount or '' to keep).
 * Drops the reservation (if it has not expired yet), adds the real amount, adjusts window entries.
 * A retry (the first attempt may have run: a timeout does not recall a command) adds the real amount
 * only where `r:<id>` is still there — the first run removed it — so a counter never counts twice.
 * Window entries are set, not added to: repeating that is harmless.
 */
export const SETTLE = `${COMMON}
local id, nc, nw, retry = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
for i = 1, nc do
  local c, x = KEYS[2 * i - 1], KEYS[2 * i]
  local actual, expire_at = ARGV[5 + 2 * (i - 1)], ARGV[6 + 2 * (i - 1)]
  local f = 'r:' .. id
  local r = redis.call('HGET', c, f)
  if r then
    redis.call('HDEL', c, f)
    redis.call('HINCRBY', c, 'reserved', fmt(-tonumber(r)))
    redis.call('ZREM', x, id)
  end
  if tonumber(actual) ~= 0 and (r or not retry) then
    redis.call('HINCRBY', c, 'spent', actual)
    redis.call('PEXPIREAT', c, expire_at)
  end
end
local wargs = 4 + 2 * nc
for i = 1, nw do
  local w, a = KEYS[2 * nc + 2 * i - 1], KEYS[2 * nc + 2 * i]
  local amount = ARGV[wargs + i]
  if amount ~= '' then
    local old = redis.call('HGET', a, id)
    if old and redis.call('ZSCORE', w, id) then
      redis.call('HSET', a, id, amount)
      redis.call('HINCRBY', a, '#sum', fmt(tonumber(amount) - tonumber(old)))
    end
  end
end
return 1
`;

/** KEYS: counter pairs (hash, expiries). Returns {spent, live reserved} per pair, leaving state untouched. */
export const READ_COUNTERS = `${COMMON}
local out = {}
for i = 1, #KEYS, 2 do
  local c, x = KEYS[i], KEYS[i + 1]
  local reserved = 0
  local ids = redis.call('ZRANGEBYSCORE', x, '(' .. fmt(now), '+inf')
  for j = 1, #ids do reserved = reserved + tonumber(redis.call('HGET', c, 'r:' .. ids[j]) or '0') end
  out[#out + 1] = fmt(tonumber(redis.call('HGET', c, 'spent') or '0'))
  out[#out + 1] = fmt(reserved)
end
return out
`;

/** KEYS: window pairs (entries, amounts). Returns the live sum per pair, leaving state untouched. */
export const READ_WINDOWS = `${COMMON}
local out = {}
for i = 1, #KEYS, 2 do
  local w, a = KEYS[i], KEYS[i + 1]
  local win = tonumber(redis.call('HGET', a, '#win') or '0')
  local used = 0
  local ids = redis.call('ZRANGEBYSCORE', w, '(' .. fmt(now - win), '+inf')
  for j = 1, #ids do used = used + tonumber(redis.call('HGET', a, ids[j]) or '0') end
  out[#out + 1] = fmt(used)
end
return out
`;
