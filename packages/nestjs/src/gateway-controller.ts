import type { IncomingMessage, ServerResponse } from 'node:http';
import { All, Controller, Inject, Req, Res, VERSION_NEUTRAL, type Type } from '@nestjs/common';
import { abortLinkFor, bodyFor, gatewayPath, writeResponse } from '@llmux/core/node';
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
 * The URL below what the route itself matched (global prefix, basePath), query string included:
 * the route's path minus its trailing wildcard is exactly the mount, whatever prefix Nest added.
 */
function pathBelowRoute(req: RoutedRequest): string {
  const route = typeof req.route?.path === 'string' ? req.route.path : '';
  return gatewayPath(req.url, route.slice(0, route.lastIndexOf('/'))) ?? '/';
}

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

    @All(wildcardRoute())
    async handle(@Req() req: RoutedRequest, @Res() res: ServerResponse): Promise<void> {
      const context = this.options.identify ? await this.options.identify(req) : undefined;
      const response = await this.gateway.handle(
        { method: req.method ?? 'GET', path: pathBelowRoute(req), headers: req.headers, body: bodyFor(req, req.body), signal: abortLinkFor(res) },
        context,
      );
      await writeResponse(res, response);
    }
  }
  return GatewayController;
}
