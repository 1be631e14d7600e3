// A NestJS app with its own routes and the llmux gateway at /llm: `npm start -w examples/nestjs`.
// Plain JavaScript so `node` runs it as is: decorators are applied as functions, with explicit
// @Inject tokens (what TypeScript's `@Controller()` / `@Inject()` syntax compiles to).
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Inject, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GatewayModule, GatewayService } from '@llmux/nestjs';
import { banner, gatewayConfig } from './gateway-config.mjs';

// One log line per request is the gateway's default (pino, `info`); the example keeps to warnings.
process.env.LLMUX_LOG_LEVEL ??= 'warn';

/** Shows `GatewayService`: app code calling the gateway directly, with the same routing and limits. */
class SummaryController {
  constructor(gateway) {
    this.gateway = gateway;
  }

  home() {
    return { app: 'nestjs example', gateway: '/llm/v1', summarize: 'POST /summarize {"text": "…"}' };
  }

  async summarize(body) {
    const completion = await this.gateway.chat(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Summarize in one sentence: ${body?.text ?? ''}` }] },
      { user: 'summary-service' },
    );
    return { summary: completion.choices[0]?.message.content };
  }
}
Controller()(SummaryController);
Inject(GatewayService)(SummaryController, undefined, 0);
const method = (name, ...decorators) => {
  const descriptor = Object.getOwnPropertyDescriptor(SummaryController.prototype, name);
  for (const decorate of decorators) decorate(SummaryController.prototype, name, descriptor);
};
method('home', Get());
method('summarize', Post('summarize'), HttpCode(200));
Body()(SummaryController.prototype, 'summarize', 0);

class AppModule {}
Module({
  imports: [
    GatewayModule.forRoot({
      config: gatewayConfig(),
      // `identify` gets the underlying Express request, after guards ran (so `req.user` is set).
      identify: (req) => ({ user: req.user?.id ?? req.headers['x-user-id'] }),
    }),
  ],
  controllers: [SummaryController],
})(AppModule);

const port = Number(process.env.PORT ?? 3000);
const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// Nest's JSON parser runs before every route and stops at 100 kB; chats with images or long
// histories are larger. This raises it (for the app's own routes too) to the gateway's 10 MiB.
app.useBodyParser('json', { limit: '10mb' });
try {
  await app.listen(port);
} catch (err) {
  console.error(err.code === 'EADDRINUSE' ? `Port ${port} is in use; set PORT to a free one` : err);
  process.exit(1);
}
console.log(banner('NestJS', `http://localhost:${port}`));
// `app.close()` runs GatewayModule's onModuleDestroy: in-flight gateway requests finish first.
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => app.close().then(() => process.exit(0)));
