// A plain static file server for dist/, standing in for a CDN in the browser tests.
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import sirv from 'sirv';

const [dir = 'dist', port = '4179'] = process.argv.slice(2);
const serve = sirv(resolve(dir), { dev: true });
createServer((req, res) =>
  serve(req, res, () => {
    res.statusCode = 404;
    res.end('Not found');
  }),
).listen(Number(port), '127.0.0.1', () =>
  console.log(`static ${dir} on http://127.0.0.1:${port}/`),
);
