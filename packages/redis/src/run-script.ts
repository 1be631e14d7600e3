import type { RedisClientType } from 'redis';

/**
 * A Lua script run by its SHA: one short EVALSHA per call instead of the whole source. Loaded on first
 * use and again after a Redis restart or `SCRIPT FLUSH` emptied the script cache (NOSCRIPT). A load
 * that failed (Redis unreachable) is forgotten, so the next call loads again instead of failing forever.
 */
export function luaScript(client: RedisClientType, source: string) {
  let sha: Promise<string> | undefined;
  return async (keys: string[], args: string[]): Promise<unknown> => {
    sha ??= client.scriptLoad(source);
    let id: string;
    try {
      id = await sha;
    } catch (e) {
      sha = undefined;
      throw e;
    }
    try {
      return await client.evalSha(id, { keys, arguments: args });
    } catch (e) {
      if (!String((e as Error).message).includes('NOSCRIPT')) throw e;
      sha = client.scriptLoad(source);
      return client.evalSha(await sha, { keys, arguments: args });
    }
  };
}
