/// <reference lib="webworker" />
/**
 * The page's service worker (README, "Offline"): after one visit, the page opens and builds
 * without a network.
 *
 * What it keeps, in one cache per build and scope (`cib-shell:<scope>:<build>`):
 * - the page shell, every file of the build: index.html, assets/, favicon.svg and the web app
 *   manifest, stored whole at install so a half-stored shell is never used;
 * - `config.json` and the bases' `manifest.json`, refreshed from the network on every load.
 *
 * What it leaves alone: the base installers. The page's Web Worker keeps each base it verified in
 * its own cache (`src/worker/base-store.ts`), keyed by the manifest's SHA-256, and falls back to that
 * copy when the network fails; storing them here as well would keep every base twice.
 *
 * It answers only GET requests for those files on its own origin, under its own scope, without a
 * query string. Everything else (bases, a build record's lookup, anything with a body) goes to the
 * network untouched: it never sees a private key, which never leaves the page anyway.
 */
import { MANIFEST_FILE } from '../core/manifest.ts';

declare const self: ServiceWorkerGlobalScope;
/** Written by scripts/service-worker.ts: a digest of the build's files. */
declare const __CIB_BUILD__: string;
/** Written by scripts/service-worker.ts: the shell's files, relative to this script. */
declare const __CIB_SHELL__: string[];

const BUILD = __CIB_BUILD__;
const CONFIG_FILE = 'config.json';
const DEFAULT_BASES_FOLDER = 'base-installers/';
/** index.html carries this marker (scripts/service-worker.ts): a copy from another build lacks it. */
const BUILD_MARKER = `<meta name="cib-build" content="${BUILD}"`;
/** config.json and manifest.json wait this long for the network before the kept copy is used. */
const NETWORK_TIMEOUT_MS = 5000;

const scope = new URL(self.registration.scope);
const CACHE_PREFIX = `cib-shell:${scope.pathname}:`;
const CACHE_NAME = `${CACHE_PREFIX}${BUILD}`;
const shell = new Set(__CIB_SHELL__);
const indexUrl = new URL('index.html', scope).href;

/** The path below the scope, or undefined for a request this worker must not answer. */
function ownPath(request: Request): string | undefined {
  if (request.method !== 'GET') return undefined;
  const url = new URL(request.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return undefined;
  // A navigation may carry a query (the page ignores it); our own files are fetched without one.
  if (url.search && request.mode !== 'navigate') return undefined;
  return url.pathname.slice(scope.pathname.length);
}

/** A response worth keeping: the server's own answer, not an error or a portal's redirect. */
function keepable(response: Response, json: boolean): boolean {
  if (!response.ok || response.redirected || response.type !== 'basic') return false;
  return !json || (response.headers.get('Content-Type') ?? '').includes('json');
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      // Content-hashed assets may come from the HTTP cache; the rest is revalidated.
      const stored = Promise.all(
        [...shell].map(async (path) => {
          const url = new URL(path, scope).href;
          const response = await fetch(url, {
            cache: path.startsWith('assets/') ? 'default' : 'no-cache',
          });
          if (!keepable(response, false))
            throw new Error(`${path} could not be stored: ${response.status}`);
          // Deployed while this worker was installing: the next update check installs the new one.
          if (url === indexUrl && !(await response.clone().text()).includes(BUILD_MARKER))
            throw new Error('index.html belongs to another build');
          await cache.put(url, response);
        }),
      );
      // A failed install leaves no half-stored cache behind; the browser tries again later.
      await stored.catch(async (error: unknown) => {
        await caches.delete(CACHE_NAME);
        throw error;
      });
      // The page read these before this worker existed; keep them for the first offline visit.
      const config = await refresh(cache, new URL(CONFIG_FILE, scope).href).catch(() => undefined);
      const manifest = manifestUrl(config);
      if (manifest) await refresh(cache, manifest).catch(() => undefined);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      // A new deployment replaces the old one whole; other scopes' caches are theirs.
      for (const name of await caches.keys())
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const path = ownPath(event.request);
  if (path === undefined) return;
  if (path === '' || path === 'index.html') {
    if (event.request.mode === 'navigate' || path === 'index.html') event.respondWith(page(event));
  } else if (shell.has(path)) {
    event.respondWith(fromShell(event.request));
  } else if (path === CONFIG_FILE || path === MANIFEST_FILE || path.endsWith(`/${MANIFEST_FILE}`)) {
    event.respondWith(networkFirst(event));
  }
});

/**
 * This build's cache while it still exists. A newer deployment's worker deletes it on activate,
 * and `caches.open` would make it again for a request this worker still answers.
 */
async function ownCache(): Promise<Cache | undefined> {
  return (await caches.has(CACHE_NAME)) ? caches.open(CACHE_NAME) : undefined;
}

/** The page: the kept copy at once, revalidated behind it (stale-while-revalidate). */
async function page(event: FetchEvent): Promise<Response> {
  const cache = await ownCache();
  const kept = await cache?.match(indexUrl);
  if (!kept) return fetch(event.request);
  event.waitUntil(
    (async () => {
      const fresh = await fetch(indexUrl, { cache: 'no-cache' });
      if (!keepable(fresh, false)) return;
      // The same build edited in place (e.g. its Content-Security-Policy): keep the edit. Another
      // build: its own service worker brings its whole shell, so never mix the two.
      if ((await fresh.clone().text()).includes(BUILD_MARKER)) await cache!.put(indexUrl, fresh);
      else await self.registration.update();
    })().catch(() => undefined),
  );
  return kept;
}

/** A file of this build: its name or content never changes within the build. */
async function fromShell(request: Request): Promise<Response> {
  const cache = await ownCache();
  return (await cache?.match(request.url)) ?? fetch(request);
}

/**
 * config.json and manifest.json: the network's answer when it comes (and kept for later), the kept
 * copy when the network fails, answers something else or is slow.
 */
async function networkFirst(event: FetchEvent): Promise<Response> {
  const cache = await ownCache();
  const url = event.request.url;
  const network = fetch(event.request).then(async (response) => {
    if (cache && keepable(response, true)) await cache.put(url, response.clone());
    return response;
  });
  event.waitUntil(network.catch(() => undefined));
  let timer: number | undefined;
  const slow = new Promise<undefined>((resolve) => {
    timer = self.setTimeout(resolve, NETWORK_TIMEOUT_MS);
  });
  const answer = await Promise.race([network.catch(() => undefined), slow]);
  self.clearTimeout(timer);
  if (answer && keepable(answer, true)) return answer;
  const kept = await cache?.match(url);
  if (kept) return kept;
  return answer ?? network;
}

/** Fetches `url` afresh into the cache; the JSON body, or undefined when it is not keepable. */
async function refresh(cache: Cache, url: string): Promise<unknown> {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!keepable(response, true)) return undefined;
  await cache.put(url, response.clone());
  return response.json();
}

/** The bases' manifest.json the page will ask for, when it is this worker's to keep. */
function manifestUrl(config: unknown): string | undefined {
  const configured =
    typeof config === 'object' && config !== null
      ? (config as Record<string, unknown>).baseInstallersUrl
      : undefined;
  const folder = typeof configured === 'string' ? configured : DEFAULT_BASES_FOLDER;
  const url = new URL(MANIFEST_FILE, new URL(folder.endsWith('/') ? folder : `${folder}/`, scope));
  return url.origin === scope.origin && url.pathname.startsWith(scope.pathname)
    ? url.href
    : undefined;
}
