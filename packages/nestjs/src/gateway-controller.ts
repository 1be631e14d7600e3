import type { IncomingMessage, ServerResponse } from 'node:http';
import { All, Controller, Inject, Req, Res, VERSION_NEUTRAL, type Type } from '@nestjs/common';
import { abortLinkFor, bodyFor, gatewayPath, originForm, writeResponse } from '@llmux/core/node';
import { Gateway } from './gateway-token.js';
import { GatewayModuleOptions } from './gateway-module-options.js';
import { wildcardRoute } from './wildcard-route.js';

interface RoutedRequest extends IncomingMessage {
  url: string;
  body?: unknown;
  /** Express's matched route, e.g. `/api/llm/{*path}`. */
  route?: { path?: unknown };
}

/**
 * The URL below what the route itself matched (global prefix, basePath), query string included. The
 * route's path minus its trailing wildcard is the mount, whatever prefix Nest added — as a pattern:
 * it may hold parameters (`t/:tenant`) and Express matches it without regard to case, so the mount is
 * cut from the URL by its number of segments, not as text.
 */
function pathBelowRoute(req: RoutedRequest): string {
  const route = typeof req.route?.path === 'string' ? req.route.path : '';
  const mount = route.slice(0, route.lastIndexOf('/'));
  const url = originForm(req.url);
  if (!mount.includes(':') && !mount.includes('(')) {
    const below = gatewayPath(url, mount);
    if (below !== undefined) return below;
  }
  let at = 0;
  for (const _segment of mount.split('/').filter(Boolean)) {
    const next = url.indexOf('/', at + 1);
    at = next === -1 ? url.length : next;
  }
  const rest = url.slice(at);
  return rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
}

const isStream = (body: unknown): boolean => typeof (body as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';

/**
 * A controller for one `basePath`, so Nest's own router serves it and the global prefix, guards and
 * middleware apply as to any route. Version-neutral: the gateway's paths carry their own `/v1`.
 * Responses go through the shared Node writer — `@Sse` would re-frame the provider's events.
 */
export function createGatewayController(basePath: string): Type<unknown> {
  @Controller({ path: basePath, version: VERSION_NEUTRAL })
  class GatewayController {
    constructor(
      @Inject(Gateway) private readonly gateway: Gateway,
      @Inject(GatewayModuleOptions) private readonly options: GatewayModuleOptions,
    ) {}

    /** The mount itself (`/llm`, `/llm?x=1`): the wildcard below matches only paths under it. */
    @All()
    async handleMount(@Req() req: RoutedRequest, @Res() res: ServerResponse): Promise<void> {
      const q = req.url.indexOf('?');
      await this.serve(req, res, q === -1 ? '/' : `/${req.url.slice(q)}`);
    }

    @All(wildcardRoute())
    async handle(@Req() req: RoutedRequest, @Res() res: ServerResponse): Promise<void> {
      await this.serve(req, res, pathBelowRoute(req));
    }

    private async serve(req: RoutedRequest, res: ServerResponse, path: string): Promise<void> {
      // Linked before `identify`: a client that leaves while it runs (a session lookup) must stop the call.
      const signal = abortLinkFor(res, { untilAnswered: true });
      const context = this.options.identify ? await this.options.identify(req) : undefined;
      const response = await this.gateway.handle({ method: req.method ?? 'GET', path, headers: req.headers, body: bodyFor(req, req.body), signal }, context);
      const writing = writeResponse(res, response, signal);
      // A stream goes on after the handler returns, as Nest's own `@Sse` routes do: a host's timeout
      // interceptor then bounds the wait for the answer to start, not a long answer's whole length.
      if (isStream(response.body)) void writing.catch(() => res.destroy());
      else await writing;
    }
  }
  return GatewayController;
}
