/** Injection token of the path a GatewayModule serves (its `basePath`, fixed when it is declared). */
export const GatewayBasePath = Symbol('GatewayBasePath');

/** The HTTP server of a Nest app, as far as this module looks at it. */
interface HttpAdapterLike {
  getType?(): string;
}

/** The base paths served per HTTP server: one process may run several Nest apps (tests do). */
const served = new WeakMap<object, Set<string>>();

/** A base path without its trailing slash: `/llm/` and `/llm` are one mount. */
export const trimSlash = (path: string) => (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path);

/** A path's segments as Express matches them: without regard to case, any value for a parameter. */
export const segmentsOf = (path: string): string[] =>
  path.split('/').filter(Boolean).map((s) => (s.startsWith(':') ? ':' : s.toLowerCase()));

/** Whether one path is a segment-wise prefix of the other (a parameter matches any segment). */
const nested = (a: readonly string[], b: readonly string[]) =>
  a.slice(0, b.length).every((s, i) => s === b[i] || s === ':' || b[i] === ':');

/**
 * Claims `basePath` on the app's HTTP server, at boot. Two GatewayModules on one path would be two
 * gateways — budgets, limits and cache counted apart, one of them never reachable over HTTP — so that
 * is refused with the way out, and so is one path under another: the outer module's catch-all route
 * takes every request below it, whichever was imported first. An adapter other than Express is
 * refused too: the route and the writer work on Node's request and response, which Fastify does not
 * hand over.
 */
export function claimBasePath(adapter: HttpAdapterLike | undefined, basePath: string): void {
  // An application context (no HTTP server) serves no route: GatewayService alone is fine there.
  if (!adapter) return;
  const type = adapter.getType?.();
  if (type !== undefined && type !== 'express') {
    throw new Error(`llmux: @llmux/nestjs serves its route on @nestjs/platform-express; this app runs on "${type}"`);
  }
  let paths = served.get(adapter);
  if (!paths) served.set(adapter, (paths = new Set()));
  // Express matches routes without regard to case: `/LLM` is the same mount.
  const key = trimSlash(basePath).toLowerCase();
  if (paths.has(key)) {
    throw new Error(
      `llmux: GatewayModule is imported twice for basePath "${basePath}": that would be two gateways with separate budgets, limits and cache. ` +
        `Import GatewayModule.forRoot(...) once — with isGlobal: true to use GatewayService in every module — or give the second one its own basePath.`,
    );
  }
  const own = segmentsOf(key);
  for (const other of paths) {
    const theirs = segmentsOf(other);
    if (nested(own, theirs)) {
      const [outer, inner] = theirs.length <= own.length ? [other, basePath] : [basePath, other];
      throw new Error(
        `llmux: GatewayModule basePath "${inner}" lies under the basePath "${outer}" of another GatewayModule, whose route takes every request below it: ` +
          `the gateway at "${inner}" could never be reached. Give each GatewayModule a basePath outside the other's (e.g. "/llm" and "/llm-internal").`,
      );
    }
  }
  paths.add(key);
}

/** Every basePath claimed on the app's HTTP server so far (trimmed, lower-cased). */
export const servedBasePaths = (adapter: object | undefined): readonly string[] => [...((adapter && served.get(adapter)) || [])];
