import { Inject, Injectable } from '@nestjs/common';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest, GatewayContext } from '@llmux/core';
import { Observable } from 'rxjs';
import { Gateway } from './gateway-token.js';

/** Extra request headers (`x-llmux-metadata`, `x-llmux-trace-id`, …) and an abort signal. */
export type GatewayCallOptions = Omit<NonNullable<Parameters<Gateway['chat']>[1]>, 'context'>;

/**
 * The gateway for app code: the same routing, cache, budgets and logs as requests to the HTTP route.
 * Failures reject (or error the Observable) with a `GatewayError`.
 */
@Injectable()
export class GatewayService {
  constructor(@Inject(Gateway) readonly gateway: Gateway) {}

  /** One chat completion. `context` stands for what `identify` would return for an HTTP request. */
  chat(body: ChatRequest, context?: GatewayContext, options: GatewayCallOptions = {}): Promise<ChatCompletion> {
    return this.gateway.chat(body, { ...options, context });
  }

  /** The completion as OpenAI chunks. Unsubscribing stops the upstream call. */
  stream(body: ChatRequest, context?: GatewayContext, options: GatewayCallOptions = {}): Observable<ChatCompletionChunk> {
    return new Observable<ChatCompletionChunk>((subscriber) => {
      // Linked by hand and unlinked when the stream ends: `AbortSignal.any` keeps every combined
      // signal alive for as long as a long-lived caller's signal lives, on Node 20.
      const stop = new AbortController();
      const outer = options.signal;
      const forward = () => stop.abort(outer?.reason);
      if (outer?.aborted) forward();
      else outer?.addEventListener('abort', forward, { once: true });
      const unlink = () => outer?.removeEventListener('abort', forward);
      const chunks = this.gateway.chatStream(body, { ...options, context, signal: stop.signal })[Symbol.asyncIterator]();
      let finished = false;
      void (async () => {
        try {
          for (let next = await chunks.next(); !next.done && !subscriber.closed; next = await chunks.next()) subscriber.next(next.value);
          finished = true;
          subscriber.complete();
        } catch (error) {
          finished = true;
          subscriber.error(error);
        } finally {
          unlink();
        }
      })();
      return () => {
        unlink();
        if (finished) return;
        stop.abort(new Error('unsubscribed'));
        chunks.return?.(undefined).catch(() => undefined);
      };
    });
  }
}
