import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** `../shared/fixtures` beside the checkout (CI lays a copy of shared/ there too). */
export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

export const fixtureText = (path: string) => readFileSync(FIXTURES + path, 'utf8');
export const fixtureBytes = (path: string) => readFileSync(FIXTURES + path);
export const fixtureJson = (path: string) => JSON.parse(fixtureText(path));

export interface CassetteInteraction {
  /** pydantic-ai cassettes keep JSON bodies as `parsed_body` beside `body` (keys sorted, values real). */
  request: { method: string; uri: string; body?: unknown; parsed_body?: any; headers?: Record<string, unknown> };
  response: { status: { code: number }; headers?: Record<string, unknown>; body?: { string?: string; parsed_body?: unknown }; parsed_body?: any };
}

/** VCR cassettes: status and bodies of each recorded interaction. */
export function cassette(path: string): CassetteInteraction[] {
  const doc = parse(fixtureText(path)) as { interactions: CassetteInteraction[] };
  return doc.interactions;
}

/** Splits a raw SSE body into its events (keeping each event's own bytes, CRLF and comments included). */
export function splitSse(raw: string): string[] {
  const parts = raw.split(/(?<=\r?\n\r?\n)/);
  return parts.filter((p) => p.length > 0);
}
