import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';

/** expressjs/compression's rules, gzip only: compressible type, 1 kB threshold, no-transform, HEAD, `res.flush`, drain listeners. */
export function compression() {
  return (req: IncomingMessage, res: ServerResponse & { flush?: () => void }, next: () => void) => {
    let stream: zlib.Gzip | undefined;
    let ended = false;
    let length: number | undefined;
    let listeners: Array<[string, (...a: any[]) => void]> | null = [];
    const r = res as any;
    const { write: _write, end: _end, on: _on, writeHead: _writeHead } = r;
    res.flush = () => stream?.flush();
    r.write = function (chunk: any, encoding: any) {
      if (ended) return false;
      if (!this._header) this._implicitHeader();
      return stream ? stream.write(Buffer.from(chunk, encoding)) : _write.call(this, chunk, encoding);
    };
    r.end = function (chunk: any, encoding: any) {
      if (ended) return false;
      if (!this._header) {
        if (!this.getHeader('content-length')) length = chunk ? Buffer.byteLength(chunk, encoding) : 0;
        this._implicitHeader();
      }
      if (!stream) return _end.call(this, chunk, encoding);
      ended = true;
      return chunk ? stream.end(Buffer.from(chunk, encoding)) : stream.end();
    };
    r.on = function (type: string, listener: (...a: any[]) => void) {
      if (!listeners || type !== 'drain') return _on.call(this, type, listener);
      if (stream) return stream.on(type, listener);
      listeners.push([type, listener]);
      return this;
    };
    const nocompress = () => {
      for (const [t, l] of listeners ?? []) _on.call(res, t, l);
      listeners = null;
    };
    r.writeHead = function (...args: any[]) {
      const type = String(res.getHeader('content-type') ?? '');
      const cacheControl = String(res.getHeader('cache-control') ?? '');
      const contentLength = Number(res.getHeader('content-length'));
      if (!/json|text|javascript/.test(type) || /(?:^|,)\s*?no-transform\s*?(?:,|$)/.test(cacheControl)) nocompress();
      else {
        const vary = res.getHeader('vary');
        res.setHeader('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
        if (contentLength < 1024 || (length !== undefined && length < 1024) || req.method === 'HEAD' || !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) nocompress();
        else {
          stream = zlib.createGzip();
          for (const [t, l] of listeners ?? []) stream.on(t, l);
          listeners = null;
          res.setHeader('content-encoding', 'gzip');
          res.removeHeader('content-length');
          stream.on('data', (c) => {
            if (_write.call(res, c) === false) stream!.pause();
          });
          stream.on('end', () => _end.call(res));
          _on.call(res, 'drain', () => stream!.resume());
        }
      }
      return _writeHead.apply(this, args);
    };
    next();
  };
}
