/**
 * The one server behind `npm start` (README, "Server and XML-RPC shim"): the page from dist/, the
 * base installers from the folder it builds from (BASES_DIR), the XML-RPC shim, build share links
 * and node-built installers, all under BASE_PATH.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import serveStatic from 'serve-static';
import { knownUpdateKeys } from '../core/software.ts';
import {
  closeSlowHeaders,
  FRAMING_HEADERS,
  HttpError,
  PROBLEM_CODE_HEADER,
  cacheControlFor,
  answerUnreadable,
  sendProblem,
} from './http.ts';
import { BandwidthBudget } from './bandwidth.ts';
import { InstallerBuilder } from './installers.ts';
import { KeygenPool } from './keygen-pool.ts';
import { capConnections, RateLimiter } from './limits.ts';
import {
  baseFile,
  buildPage,
  buildRecord,
  healthz,
  installer,
  pageConfig,
  xmlrpc,
  xmlrpcPage,
  type AppContext,
} from './routes.ts';
import { defaultPublicUrl, type ServerSettings } from './server-settings.ts';
import { FileBuildStore, isBuildId, type BuildStore } from './store.ts';
import { XmlRpcShim } from './xmlrpc.ts';

export { MAX_LOCATION_BYTES } from './routes.ts';
/**
 * A client that has not sent its whole header 10 s after connecting (or after the previous answer)
 * is answered 408 and closed (README, "Security and limits"), by the connection's own timer
 * (http.ts, closeSlowHeaders), set to 9.5 s so that a busy event loop still has half a second. Node's header timeout stays set as a second guard; its checks run
 * every half second (Node's default, every 30 s, let a 10 s timeout fire after up to 40 s). The
 * whole request gets 30 s.
 */
export const HEADER_DEADLINE_MS = 9_500;
export const HEADERS_TIMEOUT_MS = 10_000;
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;
export const REQUEST_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this long. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** A request path as logged: at most MAX_LOGGED_PATH characters, printable ASCII only. */
export const MAX_LOGGED_PATH = 200;
/** No logged error is longer than this (a stack included): input never floods the log. */
export const MAX_LOG_ENTRY = 4000;

function shown(path: string): string {
  const cut = path.length > MAX_LOGGED_PATH ? `${path.slice(0, MAX_LOGGED_PATH)}…` : path;
  return cut.replace(/[^\x21-\x7e…]/g, '?');
}

/** An error for the log: control characters other than newlines replaced, cut to MAX_LOG_ENTRY. */
function boundedLogLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- exactly the characters a terminal would act on
  const clean = text.replace(/[\u0000-\u0009\u000b-\u001f\u007f]/g, '?');
  return clean.length > MAX_LOG_ENTRY ? `${clean.slice(0, MAX_LOG_ENTRY)}…` : clean;
}

export interface AppOptions {
  store?: BuildStore;
  /** The key generator; by default one with KEYGEN_CONCURRENCY threads and KEYGEN_QUEUE. */
  keygen?: KeygenPool;
  /** The builder the start-up check used, so its kept base checks are not made again. */
  installers?: InstallerBuilder;
  /** One line per request (never a body); defaults to stdout when settings.logRequests. */
  log?: (line: string) => void;
  /** Errors and warnings for the operator; defaults to stderr. */
  logError?: (line: string) => void;
}

export interface RunningServer {
  server: Server;
  /** The PUBLIC_URL in effect (BASE_PATH included, no trailing slash). */
  publicUrl: string;
  /** http://host:port of the bound socket. */
  origin: string;
  close(): Promise<void>;
}

/** The server's installer builder, with the settings' threads, queue and update keys. */
export function installerBuilder(settings: ServerSettings): InstallerBuilder {
  return new InstallerBuilder(settings.basesDir, {
    knownKeys: knownUpdateKeys(settings.deployment.updateKeys),
    threads: settings.buildThreads,
    queue: settings.buildQueue,
  });
}

/** Builds the request handler; `publicUrl` is read per request since port 0 binds late. */
export function createApp(
  settings: ServerSettings,
  publicUrl: () => string,
  options: AppOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const logs = appLogs(settings, options);
  const ctx = appContext(settings, publicUrl, options, logs.logError);
  const serveDist = distServer(settings, logs.logError);
  return (req, res) => handleRequest({ ctx, serveDist, log: logs.log }, req, res);
}

/** What answering a request needs: the routes' context, the page's files, the request log. */
interface App {
  ctx: AppContext;
  serveDist: (req: IncomingMessage, res: ServerResponse, rest: string) => void;
  log: ((line: string) => void) | undefined;
}

/** The request log (stdout when LOG_REQUESTS) and the error log (stderr), each line bounded. */
function appLogs(settings: ServerSettings, options: AppOptions) {
  const log =
    options.log ??
    (settings.logRequests ? (line: string) => process.stdout.write(`${line}\n`) : undefined);
  const writeError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const logError = (line: string) => writeError(boundedLogLine(line));
  return { log, logError };
}

/** The state every route shares: the store, the shim, the builder, the bases and the limits. */
function appContext(
  settings: ServerSettings,
  publicUrl: () => string,
  options: AppOptions,
  logError: (line: string) => void,
): AppContext {
  const store = options.store ?? new FileBuildStore(settings.dataDir);
  const shim = new XmlRpcShim({
    deployment: settings.deployment,
    store,
    publicUrl,
    logError,
    keygenConcurrency: settings.keygenConcurrency,
    keygenQueue: settings.keygenQueue,
    ...(options.keygen ? { keygen: options.keygen } : {}),
  });
  // The page's bases come from the folder the server builds from, never from DIST_DIR: one
  // installer address gives the same installer to a browser and a script.
  const serveBases = serveStatic(settings.basesDir, {
    index: false,
    dotfiles: 'ignore',
    redirect: false,
    setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache'),
  });
  const trust = { clients: settings.trustedClients, proxies: settings.trustedProxies };
  const perMinute = (rate: number) => new RateLimiter(rate, rate, trust.clients);
  return {
    settings,
    publicUrl,
    store,
    shim,
    installers: options.installers ?? installerBuilder(settings),
    logError,
    serveBases,
    limits: {
      builds: perMinute(settings.rateLimitBuilds),
      downloads: perMinute(settings.rateLimitDownloads),
      trust,
      bandwidth: BandwidthBudget.ofMbit(settings.downloadRateMbit),
    },
  };
}

/**
 * The page's files from DIST_DIR, looked up per request, so rebuilding dist/ while the server
 * runs is safe: a new file is served, a vanished one is a 404 (a 503 when the page is not built).
 */
function distServer(settings: ServerSettings, logError: (line: string) => void): App['serveDist'] {
  const serveDist = serveStatic(settings.distDir, {
    index: ['index.html'],
    dotfiles: 'ignore',
    redirect: false,
    setHeaders: (res, path) => res.setHeader('Cache-Control', cacheControlFor(path)),
  });
  return (req, res, rest) =>
    serveDist(req, res, (error?: Error & { status?: number }) => {
      // Called after the handler returned: answer here, never throw.
      if (!error || error.status === 404) {
        if (existsSync(join(settings.distDir, 'index.html')))
          sendProblem(res, 404, 'server.path.not-found', 'Not found.');
        else
          sendProblem(
            res,
            503,
            'server.page.unbuilt',
            'The page is not built on this server; run `npm run build`.',
          );
        return;
      }
      logError(`GET ${shown(rest)}: ${error.message}`);
      answerUnreadable(res);
    });
}

/** A request path under BASE_PATH, checked and decoded. */
interface RequestPath {
  /** The path after BASE_PATH, still encoded. */
  rest: string;
  /** `rest` split at "/" and decoded. */
  segments: string[];
  /** "?…" or empty. */
  query: string;
}

/**
 * The request's path under BASE_PATH, or undefined when it was answered here (a redirect from
 * BASE_PATH without its slash); a path outside BASE_PATH, or one that could reach outside a
 * folder, is refused.
 */
function requestPath(
  req: IncomingMessage,
  res: ServerResponse,
  base: string,
): RequestPath | undefined {
  const url = req.url ?? '/';
  const queryAt = url.indexOf('?');
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  if (!rawPath.startsWith('/'))
    throw new HttpError(400, 'server.path.relative', 'The request path must start with "/".');
  if (!rawPath.startsWith(base)) {
    if (`${rawPath}/` === base) {
      res.writeHead(301, { Location: base, 'Content-Length': '0' });
      res.end();
      return undefined;
    }
    throw new HttpError(
      404,
      'server.path.outside-base',
      `Not found; this service lives under ${base}.`,
    );
  }
  const rest = rawPath.slice(base.length);
  // Nothing on this server needs an encoded slash, backslash or NUL: refuse them outright.
  if (/%2f|%5c|%00/i.test(rest))
    throw new HttpError(
      400,
      'server.path.encoded-separator',
      'The path contains an encoded "/", "\\" or NUL.',
    );
  let segments: string[];
  try {
    segments = rest.split('/').map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(
      400,
      'server.path.encoding',
      'The path is not valid percent-encoded UTF-8.',
    );
  }
  if (segments.some((s) => s === '..' || s === '.' || s.includes('\\') || s.includes('\0')))
    throw new HttpError(
      400,
      'server.path.dot-segment',
      'The path must not contain "." or ".." segments.',
    );
  return { rest, segments, query: queryAt === -1 ? '' : url.slice(queryAt) };
}

/** The route for a checked path (README, "Server and XML-RPC shim"); the page's files last. */
function dispatch(
  app: App,
  req: IncomingMessage,
  res: ServerResponse,
  { rest, segments, query }: RequestPath,
): Promise<void> | void {
  const { ctx } = app;
  const method = req.method ?? 'GET';
  const readOnly = method === 'GET' || method === 'HEAD';
  const [first = '', second, third, fourth] = segments;
  if (first === 'xmlrpc' && segments.length <= 2 && (second === undefined || second === '')) {
    if (method === 'POST') return xmlrpc(ctx, req, res);
    if (readOnly) return xmlrpcPage(ctx, res);
    throw new HttpError(
      405,
      'server.method.xmlrpc',
      'Use POST for XML-RPC calls, or GET for a description.',
    );
  }
  if (!readOnly)
    throw new HttpError(
      405,
      'server.method.not-allowed',
      `${method.slice(0, 20)} is not supported here; use GET.`,
    );
  if (rest === 'healthz') return healthz(ctx, res);
  if (first === 'base-installers') return baseFile(ctx, req, res, segments);
  if (second === 'installers') {
    if (segments.length === 3 || (segments.length === 4 && fourth === ''))
      return installer(ctx, req, res, first, third ?? '');
    throw new HttpError(
      404,
      'server.path.installer',
      'Installer addresses look like <build id>/installers/<platform>/.',
    );
  }
  if (isBuildId(first) && (segments.length === 1 || (segments.length === 2 && second === '')))
    return buildPage(ctx, res, first);
  if (isBuildId(first) && segments.length === 2 && second === 'record.json')
    return buildRecord(ctx, res, first);
  if (rest === 'config.json') return pageConfig(ctx, res);
  req.url = `/${rest}${query}`;
  app.serveDist(req, res, rest);
}

/**
 * One request: logged when it closes (never its body), framing refused, routed, and any error
 * answered (an HttpError with its status and problem code, anything else logged and a 500).
 */
async function handleRequest(app: App, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const shownPath = shown(req.url ?? '');
  if (app.log) logWhenClosed(app.log, req, res, shownPath);
  req.on('error', () => undefined);
  for (const [name, value] of Object.entries(FRAMING_HEADERS)) res.setHeader(name, value);
  try {
    const path = requestPath(req, res, app.ctx.settings.basePath);
    if (path) await dispatch(app, req, res, path);
  } catch (error) {
    if (error instanceof HttpError) {
      if (!res.headersSent)
        sendProblem(res, error.status, error.code, error.message, error.headers);
      return;
    }
    app.ctx.logError(`${req.method} ${shownPath}: ${(error as Error)?.stack ?? error}`);
    if (!res.headersSent)
      sendProblem(
        res,
        500,
        'server.internal',
        'The server failed internally; please try again later.',
      );
    else res.destroy();
  }
}

function logWhenClosed(
  log: (line: string) => void,
  req: IncomingMessage,
  res: ServerResponse,
  shownPath: string,
): void {
  const started = performance.now();
  const writtenBefore = req.socket.bytesWritten;
  res.on('close', () => {
    const ms = (performance.now() - started).toFixed(1);
    const bytes = req.socket.bytesWritten - writtenBefore;
    log(
      `${new Date().toISOString()} ${req.method} ${shownPath} ${res.statusCode} ${bytes}B ${ms}ms`,
    );
  });
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
  // Made here, so closing the server also stops its threads.
  const keygen =
    options.keygen ??
    new KeygenPool({ threads: settings.keygenConcurrency, queueLimit: settings.keygenQueue });
  options = { ...options, keygen };
  const handler = createApp(settings, publicUrl, options);
  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    },
    (req, res) => void handler(req, res),
  );
  server.maxConnections = settings.maxConnections;
  closeSlowHeaders(server, HEADER_DEADLINE_MS);
  capConnections(server, settings.maxConnectionsPerClient, {
    clients: settings.trustedClients,
    proxies: settings.trustedProxies,
  });
  // Malformed requests and the header and request timeouts end here: a short answer when the
  // socket can still take one, and the socket destroyed either way, never left half-open.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const [status, code] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', 'server.request.late']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? ['431 Request Header Fields Too Large', 'server.headers.too-large']
          : ['400 Bad Request', 'server.request.malformed'];
    socket.end(
      `HTTP/1.1 ${status}\r\nConnection: close\r\n${PROBLEM_CODE_HEADER}: ${code}\r\nContent-Length: 0\r\n\r\n`,
      () => socket.destroy(),
    );
    setTimeout(() => socket.destroy(), 1000).unref();
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
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await keygen.close();
    },
  };
}
