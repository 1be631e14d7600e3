import { lookup } from 'node:dns/promises';

/**
 * The system resolver (the one the upstream connection uses too, `getaddrinfo`), every address of
 * the name, so the SSRF guard sees all the addresses a connection might pick.
 */
export async function resolveHost(hostname: string): Promise<string[]> {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => a.address);
}
