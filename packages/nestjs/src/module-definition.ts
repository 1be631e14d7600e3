import { ConfigurableModuleBuilder, type Provider } from '@nestjs/common';
import { createGateway } from '@llmux/core';
import { createGatewayController } from './gateway-controller.js';
import { GatewayModuleOptions } from './gateway-module-options.js';
import { GatewayService } from './gateway-service.js';
import { Gateway } from './gateway-token.js';
import { GatewayBasePath, trimSlash } from './served-paths.js';


/** The core gateway, built once from the resolved options. */
function gatewayProvider(basePath: string): Provider {
  return {
    provide: Gateway,
    inject: [GatewayModuleOptions],
    useFactory: (options: GatewayModuleOptions) => {
      const { identify: _identify, shutdownDeadlineMs: _deadline, basePath: resolved, ...gatewayOptions } = options;
      // Routes are registered before any factory runs, so a path only a factory knows cannot be served.
      if (resolved !== undefined && trimSlash(resolved) !== trimSlash(basePath)) {
        throw new TypeError(
          `llmux: options.basePath "${resolved}" came from useFactory, but routes are registered before factories run; ` +
            `pass it to GatewayModule.forRootAsync({ basePath: "${resolved}", … }) instead`,
        );
      }
      return createGateway({ ...gatewayOptions, basePath });
    },
  };
}

/**
 * `forRoot(options)` / `forRootAsync({ useFactory, inject, imports, basePath, isGlobal })`. `basePath`
 * (default `/llm`) and `isGlobal` (default false) are read when the module is declared, because the
 * controller's route is fixed then.
 */
export const { ConfigurableModuleClass, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } = new ConfigurableModuleBuilder<GatewayModuleOptions>({
  optionsInjectionToken: GatewayModuleOptions,
  moduleName: 'Gateway',
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createGatewayOptions')
  .setExtras<{ basePath?: string; isGlobal?: boolean }>({ basePath: '/llm', isGlobal: false }, (definition, extras) => {
    const basePath = extras.basePath ?? '/llm';
    return {
      ...definition,
      global: extras.isGlobal ?? false,
      controllers: [createGatewayController(basePath)],
      providers: [...(definition.providers ?? []), gatewayProvider(basePath), GatewayService, { provide: GatewayBasePath, useValue: basePath }],
      exports: [Gateway, GatewayService],
    };
  })
  .build();
