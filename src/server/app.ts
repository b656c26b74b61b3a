/**
 * The one server behind `npm start` (README, "Server and XML-RPC shim"): the page and base
 * installers from dist/, the XML-RPC shim, build share links and node-built installers, all under
 * BASE_PATH.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import serveStatic from 'serve-static';
import type { ResolvedConfig } from '../core/config.ts';
import { STANDARD_PLATFORMS, platformInfoOf, type Platform } from '../core/platforms.ts';
import { CibError, describeProblems } from '../core/problems.ts';
import { encodeShare } from '../core/share.ts';
import { knownUpdateKeys } from '../core/software.ts';
import { pageConfigOf } from '../node/deployment.ts';
import { InstallerBuilder } from './installers.ts';
import { defaultPublicUrl, type ServerSettings } from './settings.ts';
import { FileBuildStore, isBuildId, type BuildStore } from './store.ts';
import { XmlRpcShim } from './xmlrpc.ts';

/** A client gets this long to send its headers, and its whole request. */
/** "linux, mac, windows or android": the standard platforms, named in a 404's advice. */
const PLATFORM_CHOICES = STANDARD_PLATFORMS.map((p) => p.platform)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Redirects longer than this go to the page's short route `#/b/<build id>` instead, which reads
 * the share code from `<build id>/record.json`: common reverse proxies refuse headers over 4 KB.
 */
export const MAX_LOCATION_BYTES = 3072;
/** Framing of anything we serve is refused: a `<meta>` policy cannot say frame-ancestors. */
const FRAMING_HEADERS = {
  'Content-Security-Policy': "frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
};
/** After a 413 we discard at most this much more of the body before closing the connection. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;

export interface AppOptions {
  store?: BuildStore;
  /** One line per request (never a body); defaults to stdout when settings.logRequests. */
  log?: (line: string) => void;
}

export interface RunningServer {
  server: Server;
  /** The PUBLIC_URL in effect (BASE_PATH included, no trailing slash). */
  publicUrl: string;
  /** http://host:port of the bound socket. */
  origin: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(text.endsWith('\n') ? text : `${text}\n`, 'utf8');
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(body.length),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value, null, 2) + '\n', 'utf8');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, {
    Location: location,
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
    Vary: 'Accept',
  });
  res.end(res.req.method === 'HEAD' ? undefined : `See ${location}\n`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Hashed assets never change; everything else (the page, config.json, the bases) revalidates. */
export function cacheControlFor(path: string): string {
  return /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * Content types a cross-site HTML form (or a no-cors fetch) can send without a preflight: a page
 * elsewhere could otherwise make a visitor's browser call the shim.
 */
const FORM_TYPES = new Set([
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
]);

/** The media type of a Content-Type header, lower case, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * True when the client says it takes HTML (a browser), false for curl's star-slash-star or none.
 */
export function acceptsHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    if (type !== 'text/html' && type !== 'application/xhtml+xml') return false;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Reads a request body of at most `limit` bytes. Over the limit (by Content-Length or while
 * streaming) it answers 413 at once, discards a bounded amount more so the client can read the
 * answer, and closes the connection; the body is never held whole.
 */
function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  timeoutMs: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    // Answer at once; then discard (never keep) up to DRAIN_LIMIT_BYTES more so the client,
    // still sending, can read the answer. A body declared larger than that is cut off.
    const tooLarge = (cutOff: boolean) => {
      if (cutOff) res.setHeader('Connection', 'close');
      sendText(res, 413, `The request body is larger than ${limit} bytes.`);
      let drained = 0;
      req.removeAllListeners('data');
      req.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > DRAIN_LIMIT_BYTES) req.socket.destroy();
      });
      req.resume();
      resolve(undefined);
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      tooLarge(Number(declared) > DRAIN_LIMIT_BYTES);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      res.setHeader('Connection', 'close');
      sendText(res, 408, `The request body did not arrive within ${timeoutMs} ms.`);
      req.destroy();
      resolve(undefined);
    }, timeoutMs);
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        clearTimeout(timer);
        chunks.length = 0;
        tooLarge(false);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(Buffer.concat(chunks, size));
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** Builds the request handler; `publicUrl` is read per request since port 0 binds late. */
export function createApp(
  settings: ServerSettings,
  publicUrl: () => string,
  options: AppOptions = {},
) {
  const store = options.store ?? new FileBuildStore(settings.dataDir);
  const log =
    options.log ??
    (settings.logRequests ? (line: string) => process.stdout.write(`${line}\n`) : undefined);
  const logError = (line: string) => process.stderr.write(`${line}\n`);
  const shim = new XmlRpcShim({
    deployment: settings.deployment,
    store,
    publicUrl,
    logError,
    keygenConcurrency: settings.keygenConcurrency,
    keygenQueue: settings.keygenQueue,
  });
  const installers = new InstallerBuilder(
    settings.basesDir,
    undefined,
    knownUpdateKeys(settings.deployment.updateKeys),
  );
  const warned = new Set<string>();
  // Files are looked up per request, so rebuilding dist/ while the server runs is safe: a new
  // file is served, a vanished one is a 404.
  const serveDist = serveStatic(settings.distDir, {
    index: ['index.html'],
    dotfiles: 'ignore',
    redirect: false,
    setHeaders: (res, path) => res.setHeader('Cache-Control', cacheControlFor(path)),
  });
  const notFound = (res: ServerResponse) =>
    existsSync(join(settings.distDir, 'index.html'))
      ? sendText(res, 404, 'Not found.')
      : sendText(res, 503, 'The page is not built on this server; run `npm run build`.');
  const base = settings.basePath;

  async function healthz(res: ServerResponse): Promise<void> {
    const page = existsSync(join(settings.distDir, 'index.html'));
    let writable = true;
    let writeError = '';
    try {
      await mkdir(settings.dataDir, { recursive: true });
      const probe = join(
        settings.dataDir,
        `.healthz-${process.pid}-${randomBytes(4).toString('hex')}`,
      );
      await writeFile(probe, 'ok\n', { flag: 'wx' });
      await rm(probe, { force: true });
    } catch (error) {
      writable = false;
      writeError = (error as NodeJS.ErrnoException).code ?? 'error';
    }
    const bases = await installers.check();
    const baseProblems = bases.problems;
    const ok = page && writable && baseProblems.length === 0;
    sendJson(res, ok ? 200 : 503, {
      status: ok ? 'ok' : 'unavailable',
      checks: {
        page: page ? 'ok' : 'the built page (dist/index.html) is missing: run `npm run build`',
        data_dir: writable ? 'ok' : `DATA_DIR is not writable (${writeError})`,
        base_installers:
          baseProblems.length === 0
            ? 'ok'
            : `BASES_DIR ${settings.basesDir}: ${describeProblems(baseProblems)}`,
      },
      keygen: shim.keygen.load,
      // Each base's software check; a refused base does not make the server unhealthy, it is
      // refused at build time, so it is reported here for the operator.
      software: Object.fromEntries(bases.bases.map((b) => [b.platform, b.software])),
    });
  }

  function xmlrpcPage(res: ServerResponse): void {
    const home = `${publicUrl()}/`;
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Seattle Custom Installer Builder: XML-RPC</title></head>
<body><h1>XML-RPC endpoint</h1>
<p>This address is the Seattle Custom Installer Builder's XML-RPC interface (API version 2.0:
<code>api_version</code>, <code>build_installers</code>, <code>get_urls</code>) for programs such as a
clearinghouse. Send it XML-RPC calls with HTTP POST.</p>
<p>To build installers yourself, use the <a href="${escapeHtml(home)}">interactive builder</a>.</p>
</body></html>
`;
    const body = Buffer.from(html, 'utf8');
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(body.length),
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  async function xmlrpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = mediaType(req.headers['content-type']);
    if (FORM_TYPES.has(type)) {
      // Never read: a cross-site form sent it. The connection closes after the answer.
      res.setHeader('Connection', 'close');
      sendText(
        res,
        415,
        `XML-RPC calls are sent as text/xml, not ${type}; this server does not take form posts.`,
      );
      req.resume();
      return;
    }
    const body = await readBody(req, res, settings.maxBodyBytes, settings.bodyTimeoutMs);
    if (!body) return;
    // Aborted when the client closes its connection first, so work queued for it is dropped.
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const xml = Buffer.from(await shim.handle(body, gone.signal), 'utf8');
    res.writeHead(200, {
      'Content-Type': 'text/xml; charset=utf-8',
      'Content-Length': String(xml.length),
      // build_installers answers may carry generated private keys: no cache may keep them.
      'Cache-Control': 'no-store',
    });
    res.end(xml);
  }

  /** The page's route for a build: its share link, or the short `#/b/` route when that is long. */
  function pageLocation(id: string, resolved: ResolvedConfig, platform?: string): string {
    const suffix = platform ? `/${platform}` : '';
    const share = `${publicUrl()}/#/s/${encodeShare(resolved)}${suffix}`;
    return Buffer.byteLength(share) <= MAX_LOCATION_BYTES
      ? share
      : `${publicUrl()}/#/b/${id}${suffix}`;
  }

  async function record(id: string) {
    let found;
    try {
      found = await store.get(id);
    } catch (error) {
      if (error instanceof CibError && error.code === 'store.record.corrupt') {
        logError(`store: ${error.message}`);
        throw new HttpError(503, error.message);
      }
      throw error;
    }
    if (!found) throw new HttpError(404, `There is no build ${id}.`);
    return found;
  }

  async function installer(
    req: IncomingMessage,
    res: ServerResponse,
    id: string,
    platform: string,
  ) {
    if (!isBuildId(id)) throw new HttpError(400, 'A build id is 40 characters from a-z and 0-9.');
    const info = platformInfoOf(platform);
    if (!info) {
      throw new HttpError(
        404,
        `There is no platform "${platform.slice(0, 40)}"; try ${PLATFORM_CHOICES}.`,
      );
    }
    const { resolved } = await record(id);
    if (acceptsHtml(req.headers.accept)) {
      redirect(res, pageLocation(id, resolved, platform));
      return;
    }
    let built;
    try {
      built = await installers.build(id, resolved, platform as Platform);
    } catch (error) {
      if (
        error instanceof CibError &&
        (error.code.startsWith('base.') || error.code.startsWith('software.'))
      ) {
        logError(`installers: ${error.code}: ${error.message}`);
        throw new HttpError(
          503,
          `The ${platform} base installer is not available on this server right now.`,
        );
      }
      throw error;
    }
    if (!built) throw new HttpError(404, `This server has no ${platform} base installer.`);
    if (built.warning && !warned.has(built.warning)) {
      warned.add(built.warning);
      logError(`installers: ${platform}: warning: ${built.warning}`);
    }
    res.writeHead(200, {
      ...(built.warning ? { 'X-CIB-Software-Warning': built.warning } : {}),
      'Content-Type': built.contentType,
      'Content-Length': String(built.bytes.length),
      'Content-Disposition': `attachment; filename="${built.filename}"`,
      'Cache-Control': 'private, max-age=3600',
      Vary: 'Accept',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : built.bytes);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    if (!rawPath.startsWith('/')) throw new HttpError(400, 'The request path must start with "/".');
    if (!rawPath.startsWith(base)) {
      if (`${rawPath}/` === base) {
        res.writeHead(301, { Location: base, 'Content-Length': '0' });
        res.end();
        return;
      }
      throw new HttpError(404, `Not found; this service lives under ${base}.`);
    }
    const rest = rawPath.slice(base.length);
    // Nothing on this server needs an encoded slash, backslash or NUL: refuse them outright.
    if (/%2f|%5c|%00/i.test(rest))
      throw new HttpError(400, 'The path contains an encoded "/", "\\" or NUL.');
    let segments: string[];
    try {
      segments = rest.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw new HttpError(400, 'The path is not valid percent-encoded UTF-8.');
    }
    if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0'))) {
      throw new HttpError(400, 'The path must not contain "." or ".." segments.');
    }
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';
    const [first = '', second, third, fourth] = segments;

    if (first === 'xmlrpc' && segments.length <= 2 && (second === undefined || second === '')) {
      if (method === 'POST') return xmlrpc(req, res);
      if (readOnly) return xmlrpcPage(res);
      throw new HttpError(405, 'Use POST for XML-RPC calls, or GET for a description.');
    }
    if (!readOnly)
      throw new HttpError(405, `${method.slice(0, 20)} is not supported here; use GET.`);
    if (rest === 'healthz') return healthz(res);
    if (second === 'installers') {
      if (segments.length === 3 || (segments.length === 4 && fourth === '')) {
        return installer(req, res, first, third ?? '');
      }
      throw new HttpError(404, 'Installer addresses look like <build id>/installers/<platform>/.');
    }
    if (isBuildId(first) && (segments.length === 1 || (segments.length === 2 && second === ''))) {
      const { resolved } = await record(first);
      redirect(res, pageLocation(first, resolved));
      return;
    }
    if (isBuildId(first) && segments.length === 2 && second === 'record.json') {
      // The public part only (the share code the page's short route needs), never a private key.
      const { resolved } = await record(first);
      sendJson(res, 200, { build_id: first, share: encodeShare(resolved) });
      return;
    }
    if (rest === 'config.json') return sendJson(res, 200, pageConfigOf(settings.deployment));
    req.url = `/${rest}${queryAt === -1 ? '' : url.slice(queryAt)}`;
    serveDist(req, res, (error?: Error & { status?: number }) => {
      if (!error || error.status === 404) return notFound(res);
      // Called after this handler returned: answer here, never throw.
      logError(`GET ${rest.slice(0, 200)}: ${error.message}`);
      if (!res.headersSent) sendText(res, 500, 'The file could not be read; please try again.');
      else res.destroy();
    });
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const shownPath = (req.url ?? '').slice(0, 200).replace(/[^\x21-\x7e]/g, '?');
    const writtenBefore = req.socket.bytesWritten;
    if (log) {
      res.on('close', () => {
        const ms = (performance.now() - started).toFixed(1);
        const bytes = req.socket.bytesWritten - writtenBefore;
        log(
          `${new Date().toISOString()} ${req.method} ${shownPath} ${res.statusCode} ${bytes}B ${ms}ms`,
        );
      });
    }
    req.on('error', () => undefined);
    for (const [name, value] of Object.entries(FRAMING_HEADERS)) res.setHeader(name, value);
    try {
      await route(req, res);
    } catch (error) {
      if (error instanceof HttpError) {
        if (!res.headersSent) sendText(res, error.status, error.message);
        return;
      }
      logError(`${req.method} ${shownPath}: ${(error as Error)?.stack ?? error}`);
      if (!res.headersSent)
        sendText(res, 500, 'The server failed internally; please try again later.');
      else res.destroy();
    }
  };
}

/** Starts listening on settings.host:settings.port (0 = any free port). */
export async function startServer(
  settings: ServerSettings,
  options: AppOptions = {},
): Promise<RunningServer> {
  let bound = '';
  const publicUrl = () => bound;
  if (!options.store) {
    // Writer threads started so the first calls need not wait; a crash's temp files removed.
    const store = new FileBuildStore(settings.dataDir);
    const removed = await store.prestart().catch((error: unknown) => {
      process.stderr.write(`store: temp files not cleaned: ${(error as Error).message}\n`);
      return 0;
    });
    if (removed > 0) process.stderr.write(`store: removed ${removed} stale temp files\n`);
    options = { ...options, store };
  }
  const handler = createApp(settings, publicUrl, options);
  const server = createServer((req, res) => void handler(req, res));
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.on('clientError', (_error, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  bound = settings.publicUrl ?? defaultPublicUrl(settings.host, address.port, settings.basePath);
  const hostShown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    publicUrl: bound,
    origin: `http://${hostShown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
