export { GatewayModule } from './gateway-module.js';
export { GatewayService, type GatewayCallOptions } from './gateway-service.js';
export { GatewayModuleOptions } from './gateway-module-options.js';
export { Gateway } from './gateway-token.js';
export { createGatewayController } from './gateway-controller.js';
export type { GatewayContext, GatewayOptions, ChatRequest, ChatCompletion, ChatCompletionChunk } from '@llmux/core';
