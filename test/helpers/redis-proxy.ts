import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to the local Redis whose replies can be delayed (a slow network, a busy Redis) or held
 * until released; commands still reach Redis at once. Point a store at `url`.
 */
export interface RedisProxy {
  url: string;
  /** Each reply from now on goes out `ms` later (0: at once). */
  delayReplies(ms: number): void;
  /** Replies from now on wait for `release()`. */
  hold(): void;
  /** Sends the held replies, in order, and stops holding. */
  release(): void;
  close(): Promise<void>;
}

export async function startRedisProxy(): Promise<RedisProxy> {
  let delay = 0;
  let holding = false;
  const held: Array<() => void> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const redis = connect(6379, '127.0.0.1');
    sockets.add(client).add(redis);
    client.pipe(redis);
    redis.on('data', (data) => {
      const send = () => void (client.writable && client.write(data));
      if (holding) held.push(send);
      else if (delay > 0) setTimeout(send, delay);
      else send();
    });
    const end = () => {
      client.destroy();
      redis.destroy();
    };
    client.on('close', end).on('error', end);
    redis.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    delayReplies: (ms) => void (delay = ms),
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      for (const send of held.splice(0)) send();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
