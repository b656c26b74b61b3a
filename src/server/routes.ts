/**
 * One handler per route of the server (README, "Server and XML-RPC shim"); app.ts parses the path
 * and picks the handler. Each gets the server's shared state as an AppContext.
 */
import { constants, existsSync } from 'node:fs';
import { access, stat, statfs } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import type { ResolvedConfig } from '../core/build-config.ts';
import { MANIFEST_FILE } from '../core/manifest.ts';
import { STANDARD_PLATFORMS, platformInfoOf, type Platform } from '../core/platforms.ts';
import { CibError, describeProblems } from '../core/problems.ts';
import { encodeShare } from '../core/share.ts';
import { pageConfigOf } from '../host/deployment.ts';
import {
  FORM_TYPES,
  HttpError,
  acceptsHtml,
  escapeHtml,
  mediaType,
  readBody,
  redirect,
  sendJson,
  answerUnreadable,
  sendProblem,
  STALLED_DOWNLOAD_MS,
} from './http.ts';
import type { BandwidthBudget } from './bandwidth.ts';
import { BuildersBusy, type InstallerBuilder } from './installers.ts';
import { clientAddress, type ClientTrust, type RateLimiter } from './limits.ts';
import type { ServerSettings } from './server-settings.ts';
import { isBuildId, type BuildStore } from './store.ts';
import { CallParser, FaultCode, PARSE_PIECE_BYTES, ShimFault, type XmlRpcShim } from './xmlrpc.ts';

/**
 * Redirects longer than this go to the page's short route `#/b/<build id>` instead, which reads
 * the share code from `<build id>/record.json`: common reverse proxies refuse headers over 4 KB.
 */
export const MAX_LOCATION_BYTES = 3072;
/** "linux, mac, windows or android": the standard platforms, named in a 404's advice. */
const PLATFORM_CHOICES = STANDARD_PLATFORMS.map((p) => p.platform)
  .join(', ')
  .replace(/, ([^,]*)$/, ' or $1');

/** What every handler shares: built once per server by createApp. */
export interface AppContext {
  settings: ServerSettings;
  /** Read per request, since port 0 binds late. */
  publicUrl: () => string;
  store: BuildStore;
  shim: XmlRpcShim;
  installers: InstallerBuilder;
  logError: (line: string) => void;
  /** Sends a file of BASES_DIR (conditional and range requests included); `next` when absent. */
  serveBases: (
    req: IncomingMessage,
    res: ServerResponse,
    next: (error?: Error & { status?: number }) => void,
  ) => void;
  /**
   * Per-client rate limits (README, "Security and limits"), who is trusted, and the download
   * budget all installer downloads share (undefined: DOWNLOAD_RATE_MBIT 0, none).
   */
  limits: {
    builds: RateLimiter;
    downloads: RateLimiter;
    trust: ClientTrust;
    bandwidth: BandwidthBudget | undefined;
  };
}

/**
 * GET base-installers/<file>: the manifest and the bases it lists, from BASES_DIR, the folder the
 * server's own builds read; config.json points the page here. Nothing else in that folder is
 * served.
 */
export async function baseFile(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  segments: readonly string[],
): Promise<void> {
  const [, name = '', ...more] = segments;
  if (more.length > 0 || name === '')
    throw new HttpError(
      404,
      'server.base.path',
      'Base installers are served as base-installers/<file>.',
    );
  if (name !== MANIFEST_FILE) {
    let listed = false;
    try {
      listed = (await ctx.installers.manifest()).bases.some((b) => b.file === name);
    } catch {
      // No usable manifest: no base is listed, and /healthz says why.
    }
    if (!listed)
      throw new HttpError(
        404,
        'server.base.unlisted',
        `This server's manifest lists no base "${name.slice(0, 60)}".`,
      );
  }
  req.url = `/${encodeURIComponent(name)}`;
  ctx.serveBases(req, res, (error) => {
    // Called after this handler returned: answer here, never throw.
    if (!error || error.status === 404)
      return sendProblem(res, 404, 'server.path.not-found', 'Not found.');
    ctx.logError(`GET base-installers/${name.slice(0, 60)}: ${error.message}`);
    answerUnreadable(res);
  });
}

/** Below this much free space in DATA_DIR's file system, /healthz reports it full. */
export const MIN_FREE_BYTES = 16 * 1024 * 1024;

/**
 * Whether DATA_DIR can take records, found without writing anything (a probe file would be left
 * behind on a full disk): the folder, or the nearest existing folder above it when it is yet to
 * be made, is a writable folder; its file system has MIN_FREE_BYTES free; and the store's latest
 * write did not fail. Undefined when all is well, else why not.
 */
async function dataDirProblem(ctx: AppContext): Promise<string | undefined> {
  let dir = ctx.settings.dataDir;
  for (;;) {
    try {
      if (!(await stat(dir)).isDirectory()) return 'not writable (ENOTDIR)';
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(dir) === dir) return `not writable (${code ?? 'error'})`;
      dir = dirname(dir);
    }
  }
  try {
    await access(dir, constants.W_OK);
    const space = await statfs(dir);
    const free = space.bavail * space.bsize;
    if (free < MIN_FREE_BYTES) return `not writable: its disk is full (${free} bytes free)`;
  } catch (error) {
    return `not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const failure = ctx.store.writeFailure?.();
  return failure ? `not writable: the latest record write failed (${failure})` : undefined;
}

/**
 * GET healthz: the page, DATA_DIR, the bases and each base's software check. It writes nothing
 * and reads no base: their checks are kept and redone only when a file changes.
 */
export async function healthz(ctx: AppContext, res: ServerResponse): Promise<void> {
  const page = existsSync(join(ctx.settings.distDir, 'index.html'));
  const dataDir = await dataDirProblem(ctx);
  const bases = await ctx.installers.check();
  const baseProblems = bases.problems;
  const ok = page && !dataDir && baseProblems.length === 0;
  sendJson(res, ok ? 200 : 503, {
    status: ok ? 'ok' : 'unavailable',
    checks: {
      page: page ? 'ok' : 'the built page (dist/index.html) is missing: run `npm run build`',
      data_dir: dataDir ? `DATA_DIR is ${dataDir}` : 'ok',
      base_installers:
        baseProblems.length === 0
          ? 'ok'
          : `BASES_DIR ${ctx.settings.basesDir}: ${describeProblems(baseProblems)}`,
    },
    // The bases the page fetches (config.json points it at this URL) and the server builds from:
    // one folder, BASES_DIR, served at base-installers/.
    bases: {
      url: `${ctx.publicUrl()}/base-installers/`,
      files: Object.fromEntries(
        bases.bases.map((b) => [b.platform, { file: b.file, size: b.size, sha256: b.sha256 }]),
      ),
    },
    keygen: ctx.shim.keygen.load,
    builds: ctx.installers.load,
    // Each base's software check; a refused base does not make the server unhealthy, it is
    // refused at build time, so it is reported here for the operator.
    software: Object.fromEntries(bases.bases.map((b) => [b.platform, b.software])),
  });
}

/** GET xmlrpc/: what the endpoint is, for a person who opened it in a browser. */
export function xmlrpcPage(ctx: AppContext, res: ServerResponse): void {
  const home = `${ctx.publicUrl()}/`;
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

/** POST xmlrpc/: one XML-RPC call to the shim. */
export async function xmlrpc(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const type = mediaType(req.headers['content-type']);
  if (FORM_TYPES.has(type)) {
    // Never read: a cross-site form sent it. The connection closes after the answer.
    res.setHeader('Connection', 'close');
    sendProblem(
      res,
      415,
      'server.body.form-type',
      `XML-RPC calls are sent as text/xml, not ${type}; this server does not take form posts.`,
    );
    req.resume();
    return;
  }
  // Read and parsed a piece at a time as it arrives, other clients' work running between pieces.
  const parser = new CallParser();
  const outcome = await readBody(
    req,
    res,
    ctx.settings.maxBodyBytes,
    ctx.settings.bodyTimeoutMs,
    (piece) => parser.write(piece),
    PARSE_PIECE_BYTES,
  );
  if (!outcome.read && outcome.refusal === undefined) return;
  const read = () => {
    if (!outcome.read) throw outcome.refusal;
    return parser.close();
  };
  // Aborted when the client closes its connection first, so work queued for it is dropped.
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const client = clientAddress(req, ctx.limits.trust);
  const admit = (method: string) => {
    if (method !== 'build_installers') return;
    const admission = ctx.limits.builds.take(client);
    if (!admission.ok) {
      throw new ShimFault(
        FaultCode.SERVER_BUSY,
        `build_installers: this address has made more than ${ctx.limits.builds.perMinute} calls in the last minute; try again in ${admission.retryAfterSeconds} seconds.`,
      );
    }
  };
  const xml = Buffer.from(await ctx.shim.answer(read, gone.signal, admit), 'utf8');
  res.writeHead(200, {
    'Content-Type': 'text/xml; charset=utf-8',
    'Content-Length': String(xml.length),
    // build_installers answers may carry generated private keys: no cache may keep them.
    'Cache-Control': 'no-store',
  });
  res.end(xml);
}

/** The page's route for a build: its share link, or the short `#/b/` route when that is long. */
function pageLocation(
  ctx: AppContext,
  id: string,
  resolved: ResolvedConfig,
  platform?: string,
): string {
  const suffix = platform ? `/${platform}` : '';
  const share = `${ctx.publicUrl()}/#/s/${encodeShare(resolved)}${suffix}`;
  return Buffer.byteLength(share) <= MAX_LOCATION_BYTES
    ? share
    : `${ctx.publicUrl()}/#/b/${id}${suffix}`;
}

/** The stored build, or the HttpError that answers for it. */
async function record(ctx: AppContext, id: string) {
  let found;
  try {
    found = await ctx.store.get(id);
  } catch (error) {
    if (error instanceof CibError && error.code === 'store.record.corrupt') {
      ctx.logError(`store: ${error.message}`);
      throw new HttpError(503, error.code, error.message);
    }
    throw error;
  }
  if (!found) throw new HttpError(404, 'server.build.unknown', `There is no build ${id}.`);
  return found;
}

/** A download within this address's rate limit, or the 429 that refuses it. */
function admitDownload(ctx: AppContext, req: IncomingMessage): void {
  const admission = ctx.limits.downloads.take(clientAddress(req, ctx.limits.trust));
  if (admission.ok) return;
  throw new HttpError(
    429,
    'server.rate.downloads',
    `This address has downloaded more than ${ctx.limits.downloads.perMinute} installers in the last minute; try again in ${admission.retryAfterSeconds} seconds.`,
    { 'Retry-After': String(admission.retryAfterSeconds) },
  );
}

/** The build's installer for `platform` (from a build thread), or the HttpError that answers. */
async function buildFor(ctx: AppContext, id: string, resolved: ResolvedConfig, platform: Platform) {
  let built;
  try {
    built = await ctx.installers.build(id, resolved, platform);
  } catch (error) {
    if (error instanceof BuildersBusy) {
      throw new HttpError(503, 'server.builders.busy', error.message, {
        'Retry-After': String(error.retryAfterSeconds),
      });
    }
    if (error instanceof CibError) {
      ctx.logError(`installers: ${platform}: ${error.code}: ${error.message}`);
      throw new HttpError(
        503,
        'server.base.unavailable',
        `The ${platform} base installer is not available on this server right now.`,
      );
    }
    throw error;
  }
  if (!built)
    throw new HttpError(
      404,
      'server.base.missing',
      `This server has no ${platform} base installer.`,
    );
  return built;
}

/** GET <id>/installers/<platform>/: the installer, or the page for a browser. */
export async function installer(
  ctx: AppContext,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
  platform: string,
) {
  if (!isBuildId(id))
    throw new HttpError(
      400,
      'server.build-id.invalid',
      'A build id is 40 characters from a-z and 0-9.',
    );
  const info = platformInfoOf(platform);
  if (!info) {
    throw new HttpError(
      404,
      'server.platform.unknown',
      `There is no platform "${platform.slice(0, 40)}"; try ${PLATFORM_CHOICES}.`,
    );
  }
  const browser = acceptsHtml(req.headers.accept);
  // Only real downloads count: a browser is sent to the page, which builds on its own machine.
  if (!browser) admitDownload(ctx, req);
  const { resolved } = await record(ctx, id);
  if (browser) {
    redirect(res, pageLocation(ctx, id, resolved, platform));
    return;
  }
  const built = await buildFor(ctx, id, resolved, platform as Platform);
  res.writeHead(200, {
    'Content-Type': built.contentType,
    'Content-Length': String(built.length),
    'Content-Disposition': `attachment; filename="${built.filename}"`,
    'Cache-Control': 'private, max-age=3600',
    Vary: 'Accept',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // With no 'timeout' listener, Node destroys the socket when nothing moves for that long (the
  // client stopped reading); after the answer, Node's keep-alive timeout replaces this one.
  req.socket.setTimeout(STALLED_DOWNLOAD_MS);
  await sendPieces(res, built.pieces, ctx.limits.bandwidth);
}

/** A wait for the budget this long stops the socket's stall timer (STALLED_DOWNLOAD_MS) meanwhile. */
const LONG_TURN_MS = 1000;

/**
 * Slices of the kept base and the new tail, one write in flight: each piece is written when the
 * client has taken the one before and, with a budget, when its turn on the budget's timeline
 * comes. A client that leaves stops the loop at once: its waiting turn is dropped (its timer
 * cleared), and nothing more is written.
 */
async function sendPieces(
  res: ServerResponse,
  pieces: readonly Uint8Array[],
  budget: BandwidthBudget | undefined,
): Promise<void> {
  // Gone while its installer was being built: its 'close' has passed already.
  if (!res.socket || res.socket.destroyed) return;
  const gone = new AbortController();
  const leave = () => gone.abort();
  res.once('close', leave);
  try {
    for (const piece of pieces) {
      gone.signal.throwIfAborted();
      const turn = budget?.turn(piece.length, gone.signal);
      // Waiting for the budget is not the client stalling: a long wait stops the stall timer.
      const long = turn !== undefined && turn.delayMs >= LONG_TURN_MS;
      if (long) res.socket?.setTimeout(0);
      await turn?.ready;
      if (long) res.socket?.setTimeout(STALLED_DOWNLOAD_MS);
      if (!res.write(piece)) await once(res, 'drain', { signal: gone.signal });
    }
    res.end();
  } catch {
    // The client went away mid-download: the socket is already closed, nothing to answer.
  } finally {
    res.off('close', leave);
  }
}

/** GET <id>/: the page for the build (its share link). */
export async function buildPage(ctx: AppContext, res: ServerResponse, id: string): Promise<void> {
  const { resolved } = await record(ctx, id);
  redirect(res, pageLocation(ctx, id, resolved));
}

/** GET <id>/record.json: the public part only (the share code the page's short route needs). */
export async function buildRecord(ctx: AppContext, res: ServerResponse, id: string): Promise<void> {
  const { resolved } = await record(ctx, id);
  sendJson(res, 200, { build_id: id, share: encodeShare(resolved) });
}

/**
 * GET config.json: the page's deployment settings, from the server's own, with `demoBases` when
 * the bases it serves earn the demo update key (docs/keys.md).
 */
export async function pageConfig(ctx: AppContext, res: ServerResponse): Promise<void> {
  const { demoBases } = await ctx.installers.trust();
  sendJson(res, 200, {
    ...pageConfigOf(ctx.settings.deployment, demoBases),
    // This server's own base-installers/ route (relative to config.json, so under BASE_PATH),
    // which serves BASES_DIR: the page builds from the bases the server builds from.
    baseInstallersUrl: 'base-installers/',
  });
}
