/**
 * One handler per route of the server (README, "Server and XML-RPC shim"); app.ts parses the path
 * and picks the handler. Each gets the server's shared state as an AppContext.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ResolvedConfig } from '../core/config.ts';
import { STANDARD_PLATFORMS, platformInfoOf, type Platform } from '../core/platforms.ts';
import { CibError, describeProblems } from '../core/problems.ts';
import { encodeShare } from '../core/share.ts';
import { pageConfigOf } from '../node/deployment.ts';
import {
  FORM_TYPES,
  HttpError,
  acceptsHtml,
  escapeHtml,
  mediaType,
  readBody,
  redirect,
  sendJson,
  sendText,
} from './http.ts';
import type { InstallerBuilder } from './installers.ts';
import type { ServerSettings } from './settings.ts';
import { isBuildId, type BuildStore } from './store.ts';
import type { XmlRpcShim } from './xmlrpc.ts';

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
}

/** GET healthz: the page, DATA_DIR, the bases and each base's software check. */
export async function healthz(ctx: AppContext, res: ServerResponse): Promise<void> {
  const page = existsSync(join(ctx.settings.distDir, 'index.html'));
  let writable = true;
  let writeError = '';
  try {
    await mkdir(ctx.settings.dataDir, { recursive: true });
    const probe = join(
      ctx.settings.dataDir,
      `.healthz-${process.pid}-${randomBytes(4).toString('hex')}`,
    );
    await writeFile(probe, 'ok\n', { flag: 'wx' });
    await rm(probe, { force: true });
  } catch (error) {
    writable = false;
    writeError = (error as NodeJS.ErrnoException).code ?? 'error';
  }
  const bases = await ctx.installers.check();
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
          : `BASES_DIR ${ctx.settings.basesDir}: ${describeProblems(baseProblems)}`,
    },
    keygen: ctx.shim.keygen.load,
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
    sendText(
      res,
      415,
      `XML-RPC calls are sent as text/xml, not ${type}; this server does not take form posts.`,
    );
    req.resume();
    return;
  }
  const body = await readBody(req, res, ctx.settings.maxBodyBytes, ctx.settings.bodyTimeoutMs);
  if (!body) return;
  // Aborted when the client closes its connection first, so work queued for it is dropped.
  const gone = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) gone.abort();
  });
  const xml = Buffer.from(await ctx.shim.handle(body, gone.signal), 'utf8');
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
      throw new HttpError(503, error.message);
    }
    throw error;
  }
  if (!found) throw new HttpError(404, `There is no build ${id}.`);
  return found;
}

/** GET <id>/installers/<platform>/: the installer, or the page for a browser. */
export async function installer(
  ctx: AppContext,
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
  const { resolved } = await record(ctx, id);
  if (acceptsHtml(req.headers.accept)) {
    redirect(res, pageLocation(ctx, id, resolved, platform));
    return;
  }
  let built;
  try {
    built = await ctx.installers.build(id, resolved, platform as Platform);
  } catch (error) {
    if (
      error instanceof CibError &&
      (error.code.startsWith('base.') || error.code.startsWith('software.'))
    ) {
      ctx.logError(`installers: ${error.code}: ${error.message}`);
      throw new HttpError(
        503,
        `The ${platform} base installer is not available on this server right now.`,
      );
    }
    throw error;
  }
  if (!built) throw new HttpError(404, `This server has no ${platform} base installer.`);
  res.writeHead(200, {
    'Content-Type': built.contentType,
    'Content-Length': String(built.bytes.length),
    'Content-Disposition': `attachment; filename="${built.filename}"`,
    'Cache-Control': 'private, max-age=3600',
    Vary: 'Accept',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : built.bytes);
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
  sendJson(res, 200, pageConfigOf(ctx.settings.deployment, demoBases));
}
