import type { IncomingMessage } from 'node:http';

/**
 * The request body as the core wants it: whatever a body parser produced when one consumed the
 * stream (used as is — no re-serialising), else the unread stream itself, which the core reads
 * under its size limit. A parser that skipped a request (wrong content type) leaves the stream
 * unread, so its placeholder `{}` is ignored.
 */
export function bodyFor(req: IncomingMessage, parsed: unknown): unknown {
  const consumed = req.readableEnded || (req as { _body?: boolean })._body === true;
  return consumed ? parsed : req;
}
