// A plain static file server for dist/, standing in for a CDN in the browser tests.
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import serveStatic from 'serve-static';

const [dir = 'dist', port = '4179'] = process.argv.slice(2);
// The server's own static handler; nothing cached by the browser, so each test sees dist/ as it is.
const serve = serveStatic(resolve(dir), {
  etag: false,
  lastModified: false,
  cacheControl: false,
  setHeaders: (res) => res.setHeader('Cache-Control', 'no-store'),
});
createServer((req, res) =>
  serve(req, res, () => {
    res.statusCode = 404;
    res.end('Not found');
  }),
).listen(Number(port), '127.0.0.1', () =>
  console.log(`static ${dir} on http://127.0.0.1:${port}/`),
);
