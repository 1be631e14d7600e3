import type { GatewayContext, GatewayOptions } from '@llmux/core';

export interface GatewayModuleOptions<Req = any> extends Omit<GatewayOptions, 'identify'> {
  /**
   * Maps the underlying request (Express's `req` under platform-express, after guards ran, so
   * `req.user` is set) to budget and limit scopes. Default: none. `GatewayService` calls take the
   * context as an argument instead.
   */
  identify?: (req: Req) => GatewayContext | undefined | Promise<GatewayContext | undefined>;
  /** How long `app.close()` lets in-flight gateway requests finish before cutting them, ms. Default 10000. */
  shutdownDeadlineMs?: number;
}

/** Injection token of the module's options (what `forRoot` got, or what `useFactory` returned). */
export const GatewayModuleOptions = Symbol('GatewayModuleOptions');
