/**
 * A static server of our own for the browser tests that need one: the page under a sub-path, a
 * test copy of dist/, and a network that can be taken away (closing the server is a real outage:
 * every request then fails, whatever the browser's own offline emulation covers).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { staticFiles } from '../support/static-files.ts';

export interface Served {
  /** The page's address, ending in `/`. */
  url: string;
  /** Stops serving: open connections are cut, new ones refused. */
  close(): Promise<void>;
}

/** Serves each folder under its sub-path (e.g. `{ '/deep/sub/': 'dist' }`) on a free port. */
export async function serveFolders(
  mounts: Record<string, string>,
): Promise<Served & { base: string }> {
  const handlers = Object.entries(mounts).map(([prefix, dir]) => ({
    prefix,
    serve: staticFiles(resolve(dir)),
  }));
  const server: Server = createServer((req, res) => {
    const notFound = () => {
      res.statusCode = 404;
      res.end('Not found');
    };
    const url = req.url ?? '/';
    const mount = handlers.find((h) => url.startsWith(h.prefix));
    if (!mount) return notFound();
    req.url = `/${url.slice(mount.prefix.length)}`;
    mount.serve(req, res, notFound);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  const first = Object.keys(mounts)[0] ?? '/';
  return {
    base,
    url: `${base}${first}`,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** The script a test copy loads before the page's own: see `testCopyOfDist`. */
export const RECORDER_FILE = 'cib-test-recorder.js';

/**
 * Records, in `window.__cibErrors` and sessionStorage (so a reload keeps them), every uncaught
 * error, failed resource load, unhandled rejection, CSP violation and `console.error` call: the
 * only way to see a page's errors in an engine whose driver gives no console (WebKitWebDriver).
 */
const RECORDER = `(() => {
  const KEY = '__cibErrors';
  const kept = JSON.parse(sessionStorage.getItem(KEY) || '[]');
  window[KEY] = kept;
  const note = (text) => {
    kept.push(String(text));
    sessionStorage.setItem(KEY, JSON.stringify(kept));
  };
  addEventListener('error', (event) => {
    const target = event.target;
    if (target && target !== window && (target.src || target.href))
      note('failed to load ' + (target.src || target.href));
    else note('error: ' + (event.message || event.error));
  }, true);
  addEventListener('unhandledrejection', (event) => {
    const reason = event.reason;
    note('unhandled rejection: ' + (reason && reason.message ? reason.message : reason));
  });
  document.addEventListener('securitypolicyviolation', (event) => {
    note('CSP: ' + event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline'));
  });
  const error = console.error.bind(console);
  console.error = (...args) => {
    note('console.error: ' + args.map(String).join(' '));
    error(...args);
  };
})();
`;

/**
 * A copy of dist/ whose index.html loads the recorder first, right after the
 * Content-Security-Policy it must obey like any other script. Nothing else changes.
 */
export function testCopyOfDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cib-dist-'));
  cpSync(resolve('dist'), dir, { recursive: true });
  writeFileSync(join(dir, RECORDER_FILE), RECORDER);
  const index = join(dir, 'index.html');
  const html = readFileSync(index, 'utf8');
  const marked = html.replace(
    /(<meta\s+http-equiv="Content-Security-Policy"[^>]*>)/,
    `$1\n    <script src="./${RECORDER_FILE}"></script>`,
  );
  if (marked === html) throw new Error('dist/index.html has no Content-Security-Policy meta tag.');
  writeFileSync(index, marked);
  // The service worker keeps the files of the build it lists; the recorder joins that list, so
  // the page loads it offline too.
  const worker = join(dir, 'sw.js');
  const code = readFileSync(worker, 'utf8');
  if (code.split('"favicon.svg"').length !== 2)
    throw new Error('dist/sw.js does not list favicon.svg exactly once.');
  writeFileSync(worker, code.replace('"favicon.svg"', `"${RECORDER_FILE}","favicon.svg"`));
  return dir;
}
