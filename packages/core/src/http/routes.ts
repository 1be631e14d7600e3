/** The routes under the mount point. Anything else is a JSON 404. */
export type RouteName = 'chat' | 'embeddings' | 'messages' | 'count_tokens' | 'models' | 'model' | (string & {});

export interface RouteMatch {
  name: RouteName;
  /** The path's query string, without `?`. */
  query: string;
}

const ROUTES: Record<string, Record<string, RouteName>> = {
  '/v1/chat/completions': { POST: 'chat' },
  '/chat/completions': { POST: 'chat' },
  '/v1/embeddings': { POST: 'embeddings' },
  '/embeddings': { POST: 'embeddings' },
  '/v1/messages': { POST: 'messages' },
  '/v1/messages/count_tokens': { POST: 'count_tokens' },
  '/v1/models': { GET: 'models' },
  '/models': { GET: 'models' },
  '/usage': { GET: 'usage' },
  '/metrics': { GET: 'metrics' },
  '/playground': { GET: 'playground' },
  '/playground/api/info': { GET: 'playground-info' },
  '/playground/api/chat': { POST: 'playground-chat' },
  '/playground/api/usage': { GET: 'playground-usage' },
  '/playground/api/requests': { GET: 'playground-requests' },
};

/** `GET /v1/models/{id}` (the SDKs' `models.retrieve`): ids may hold slashes (`meta-llama/Llama-3.1-8B`). */
const ONE_MODEL: Record<string, RouteName> = { GET: 'model' };
const MODEL_PREFIXES = ['/v1/models/', '/models/'];

/** The model id in a `/v1/models/{id}` path (query and trailing slash already cut), still URL-encoded. */
export function modelIdIn(path: string): string | undefined {
  for (const prefix of MODEL_PREFIXES) if (path.startsWith(prefix) && path.length > prefix.length) return path.slice(prefix.length);
  return undefined;
}

/** Lets later stages add routes (playground, usage, metrics) without touching this table's callers. */
export function addRoute(path: string, method: string, name: RouteName): void {
  (ROUTES[path] ??= {})[method] = name;
}

function allowedMethods(byMethod: Record<string, RouteName>): string[] {
  const allowed = Object.keys(byMethod);
  return byMethod.GET ? [...allowed, 'HEAD'] : allowed;
}

/** The path a route is looked up by: without its query string and one trailing slash. */
export function routePath(rawPath: string): string {
  const q = rawPath.indexOf('?');
  const path = q === -1 ? rawPath : rawPath.slice(0, q);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

export function matchRoute(method: string, rawPath: string): RouteMatch | { error: 404 | 405; allowed?: string[] } {
  const q = rawPath.indexOf('?');
  const path = routePath(rawPath);
  const byMethod = ROUTES[path] ?? (modelIdIn(path) !== undefined ? ONE_MODEL : undefined);
  if (!byMethod) return { error: 404 };
  const m = method.toUpperCase();
  // HEAD is GET without the body (RFC 9110 §9.3.2): uptime checks and `curl -I` use it. The writers
  // send no body for HEAD (Node's response drops it), with the headers GET would have.
  const name = byMethod[m] ?? (m === 'HEAD' ? byMethod.GET : undefined);
  if (!name) return { error: 405, allowed: allowedMethods(byMethod) };
  return { name, query: q === -1 ? '' : rawPath.slice(q + 1) };
}
