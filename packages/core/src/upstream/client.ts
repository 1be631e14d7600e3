import { Agent } from 'undici';
import type { UpstreamRequest, UpstreamResponse } from '../providers/types.js';

/** Options for the pooled upstream HTTP client. */
export interface UpstreamClientOptions {
  /** Sockets per upstream origin. Default 128. */
  connections?: number;
  /** How long an idle keep-alive socket stays open, ms. Default 30000. */
  keepAliveTimeout?: number;
}

/**
 * One undici Agent for every upstream: keep-alive pools per origin, no per-request client setup.
 * undici's `request` is used instead of `fetch` because it skips the WHATWG stream machinery per chunk.
 */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UpstreamClientOptions = {}) {
    this.agent = new Agent({
      connections: options.connections ?? 128,
      keepAliveTimeout: options.keepAliveTimeout ?? 30_000,
      // Timeouts are ours (per attempt and per request deadline), not undici's fixed 300 s ones.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async send(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const url = new URL(req.url);
    const res = await this.agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: req.method,
      headers: req.headers,
      body: req.body ?? null,
      signal,
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      dump: () => res.body.dump().then(() => undefined),
    };
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** Aborts every request still running (`close()` waits for them); for a shutdown past its deadline. */
  destroy(): Promise<void> {
    return this.agent.destroy();
  }
}

export async function readText(body: AsyncIterable<Uint8Array>, limit = 64 * 1024 * 1024): Promise<string> {
  const decoder = new TextDecoder();
  let out = '';
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`upstream body exceeds ${limit} bytes`);
    out += decoder.decode(chunk, { stream: true });
  }
  return out + decoder.decode();
}
