/**
 * The static file handler the browser tests and bench:browser serve a built page with: the same
 * package as the server (serve-static), with nothing cached by the browser (each test sees the
 * files as they are on disk now, as a CDN serves a new deployment).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import serveStatic from 'serve-static';

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export function staticFiles(dir: string): StaticHandler {
  const serve = serveStatic(dir, {
    etag: false,
    lastModified: false,
    cacheControl: false,
    setHeaders: (res) => res.setHeader('Cache-Control', 'no-store'),
  });
  return (req, res, next) => serve(req, res, () => next());
}
