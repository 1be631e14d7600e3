import type { Gateway as CoreGateway } from '@llmux/core';

/** Injection token of the core `Gateway` the module builds: `@Inject(Gateway) gateway: Gateway`. */
export const Gateway = Symbol('Gateway');
export type Gateway = CoreGateway;
