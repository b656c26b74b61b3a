import { createServer } from 'node:http';
import { resolve } from 'node:path';
import sirv from 'sirv';
import { PROJECT_ROOT } from '../node/deployment.ts';

// Serves the built page; the XML-RPC shim joins it in its own issue.
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
const serveDist = sirv(resolve(PROJECT_ROOT, 'dist'), { etag: true, single: false });

const server = createServer((req, res) => {
  serveDist(req, res, () => {
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('Not found\n');
  });
});
server.listen(port, host, () => {
  console.log(`Serving the page at http://${host}:${port}/`);
});
