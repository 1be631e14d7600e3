import { Inject, Module, Optional, type DynamicModule, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { parserRefusals, registeredMounts } from './parser-refusals.js';
import { wildcardRoute } from './wildcard-route.js';
import { claimBasePath, GatewayBasePath, segmentsOf, servedBasePaths } from './served-paths.js';
import { ASYNC_OPTIONS_TYPE, ConfigurableModuleClass, OPTIONS_TYPE } from './module-definition.js';
import { GatewayModuleOptions } from './gateway-module-options.js';
import { Gateway } from './gateway-token.js';

/** Serves the gateway under `basePath` (default `/llm`) and provides `GatewayService` and `Gateway`. */
@Module({})
export class GatewayModule extends ConfigurableModuleClass implements OnModuleInit, OnModuleDestroy {
  constructor(
    @Inject(Gateway) private readonly gateway: Gateway,
    @Inject(GatewayModuleOptions) private readonly options: GatewayModuleOptions,
    @Inject(GatewayBasePath) private readonly basePath: string,
    @Optional() @Inject(HttpAdapterHost) private readonly adapterHost?: HttpAdapterHost,
  ) {
    super();
    // At creation, before routes are registered: the error names the module, not a router's complaint.
    claimBasePath(adapterHost?.httpAdapter, basePath);
  }

  /**
   * Runs after Nest registered the routes and before its exception layer: the place for an error
   * handler that sees Nest's body parser refusing a gateway request (see `parser-refusals.ts`). The
   * gateway's route is read off the router as registered, global prefix and exclusions applied.
   */
  onModuleInit(): void {
    const http = this.adapterHost?.httpAdapter;
    if (!http || http.getType?.() !== 'express') return;
    const mounts = registeredMounts(http.getInstance(), this.basePath, wildcardRoute(), servedBasePaths(http));
    // Below a basePath of its own, every path is the gateway's route; at `/` it shares them with the app's.
    http.use(parserRefusals(this.gateway, mounts, segmentsOf(this.basePath).length > 0));
  }

  /** `GatewayModule.forRoot({ config, providers, identify, … })` — options as for `createGateway`. */
  static override forRoot(options: typeof OPTIONS_TYPE = {}): DynamicModule {
    return super.forRoot(options);
  }

  /** `GatewayModule.forRootAsync({ imports, inject, useFactory, basePath })`; see `OPTIONS_TYPE` for `basePath`. */
  static override forRootAsync(options: typeof ASYNC_OPTIONS_TYPE): DynamicModule {
    return super.forRootAsync(options);
  }

  /** On `app.close()`: new gateway requests are refused while in-flight ones finish, up to `shutdownDeadlineMs`. */
  async onModuleDestroy(): Promise<void> {
    await this.gateway.close(this.options.shutdownDeadlineMs);
  }
}
