import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { DeploymentSettings } from '../core/deployment-settings.ts';
import { loadDeploymentSettings, PROJECT_ROOT } from '../host/deployment.ts';
import { normalizeAddress } from './limits.ts';

/** Everything the server reads from the environment, checked once at start-up. */
export interface ServerSettings {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /**
   * Address put into returned URLs, BASE_PATH included, no trailing slash. Undefined means
   * `http://HOST:PORT` + BASE_PATH with the port actually bound.
   */
  publicUrl: string | undefined;
  /** Where build records live. */
  dataDir: string;
  /** Sub-path everything is mounted under: always starts and ends with "/". */
  basePath: string;
  /** The built page (`vite build` output). */
  distDir: string;
  /** Where the base installers and manifest.json are read for node-side building. */
  basesDir: string;
  deployment: DeploymentSettings;
  /** Request bodies above this many bytes get 413. */
  maxBodyBytes: number;
  /** A request body must arrive within this many milliseconds of the headers. */
  bodyTimeoutMs: number;
  /** One log line per request on stdout. */
  logRequests: boolean;
  /** Keys generated at once, each on its own thread, and keys that may wait beyond those. */
  keygenConcurrency: number;
  keygenQueue: number;
  /** Worker threads building installers, and builds waiting beyond those (then 503). */
  buildThreads: number;
  buildQueue: number;
  /** build_installers calls and installer downloads per client per minute; 0 = no limit. */
  rateLimitBuilds: number;
  rateLimitDownloads: number;
  /**
   * Megabits a second shared by all installer downloads of one server process (bandwidth.ts);
   * 0 = no budget.
   */
  downloadRateMbit: number;
  /** Addresses never rate limited or capped (a clearinghouse). */
  trustedClients: ReadonlySet<string>;
  /** Reverse proxies whose X-Forwarded-For names the client. */
  trustedProxies: ReadonlySet<string>;
  /** Connections one client address (IPv6: one /64) may hold open; 0 = no cap. */
  maxConnectionsPerClient: number;
  /** Connections the server holds open in all. */
  maxConnections: number;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** A clearinghouse call is about 2 KB; 50 users with 4096-bit keys stay well under 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;
/** Key-generation threads: one per core, since each keeps a core busy; more than 8 buys little. */
export const MAX_DEFAULT_KEYGEN_THREADS = 8;
export const DEFAULT_KEYGEN_CONCURRENCY = Math.max(
  1,
  Math.min(availableParallelism(), MAX_DEFAULT_KEYGEN_THREADS),
);
/**
 * Keys that may wait for a thread. The old service's stress example (50 calls at once, two
 * generated keys each) needs 100; this leaves room for more, and at 2048 bits a quiet core makes
 * one in about 0.1 s, so the last waits well under a minute even on one core.
 */
export const DEFAULT_KEYGEN_QUEUE = 256;
/** Threads cost memory each: a setting above this is a mistake. */
export const MAX_KEYGEN_THREADS = 64;
export const DEFAULT_BUILD_THREADS = 2;
export const DEFAULT_BUILD_QUEUE = 64;
export const DEFAULT_RATE_LIMIT_BUILDS = 60;
export const DEFAULT_RATE_LIMIT_DOWNLOADS = 60;
/**
 * The download budget (README, "Security and limits"), 500 MB/s: measured with `npm run loadtest`
 * (big_downloads) on a 2-core machine. Unbudgeted, 20 downloads took 1.5 GB/s and the small calls'
 * p99 went to 15 to 20 times a quiet server's; at 8000 it stayed within the goal of 5 times, but
 * came to 4.5 times in a whole run; at 4000 it stayed within 2 times. Half the largest figure that
 * held, for room on slower or busier cores; a 1 Gbit network card bounds a real deployment well
 * below it anyway.
 */
export const DEFAULT_DOWNLOAD_RATE_MBIT = 4000;
/**
 * Connections one client address may hold. The old service's stress example opens 50 at once from
 * one address, and is answered in full under the defaults; a trickling client still holds few of
 * the server's 4096.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 64;
export const DEFAULT_MAX_CONNECTIONS = 4096;

function fail(message: string): never {
  throw new Error(message);
}

/** "/", "sub", "/sub/", "/a/b" -> "/", "/sub/", "/sub/", "/a/b/". */
export function normalizeBasePath(text: string): string {
  const inner = text.trim().replace(/^\/+|\/+$/g, '');
  if (!inner) return '/';
  for (const segment of inner.split('/')) {
    if (!/^[A-Za-z0-9._~-]+$/.test(segment) || segment === '.' || segment === '..')
      fail(`BASE_PATH must be a plain path such as /cib/, not "${text}".`);
  }
  return `/${inner}/`;
}

function parseCount(
  name: string,
  text: string | undefined,
  fallback: number,
  min: number,
  max = 10_000,
): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    fail(`${name} must be a whole number from ${min} to ${max}, not "${text}".`);
  return value;
}

/** A comma-separated list of IP addresses, normalised as the server compares them. */
function parseAddresses(name: string, text: string | undefined): ReadonlySet<string> {
  const addresses = new Set<string>();
  for (const item of (text ?? '').split(',')) {
    const address = item.trim();
    if (!address) continue;
    if (!isIP(address))
      fail(`${name} must list IP addresses separated by commas, not "${address.slice(0, 60)}".`);
    addresses.add(normalizeAddress(address));
  }
  return addresses;
}

function parsePort(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_PORT;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`PORT must be a whole number from 0 to 65535, not "${text}".`);
  return port;
}

function parsePublicUrl(text: string | undefined): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    fail(
      `PUBLIC_URL must be an absolute http(s) URL such as https://example.org/cib, not "${text}".`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    fail(`PUBLIC_URL must start with http:// or https://, not "${text}".`);
  if (url.search || url.hash) fail(`PUBLIC_URL must not have a query or fragment: "${text}".`);
  return url.href.replace(/\/+$/, '');
}

/** Reads HOST, PORT, PUBLIC_URL, DATA_DIR, BASE_PATH, DIST_DIR, BASES_DIR, MAX_BODY_BYTES,
 * BODY_TIMEOUT_MS, LOG_REQUESTS, KEYGEN_CONCURRENCY, KEYGEN_QUEUE, the limits of "Security and
 * limits" (BUILD_THREADS, BUILD_QUEUE, RATE_LIMIT_BUILDS, RATE_LIMIT_DOWNLOADS, DOWNLOAD_RATE_MBIT,
 * TRUSTED_CLIENTS, TRUSTED_PROXIES, MAX_CONNECTIONS_PER_CLIENT, MAX_CONNECTIONS) and the deployment settings
 * (RESERVED_SHARE, RESERVED_KEY/RESERVED_KEY_FILE). */
export function loadServerSettings(env: NodeJS.ProcessEnv = process.env): ServerSettings {
  const distDir = resolve(env.DIST_DIR || resolve(PROJECT_ROOT, 'dist'));
  const distBases = resolve(distDir, 'base-installers');
  const basesDir = resolve(
    env.BASES_DIR ||
      (existsSync(resolve(distBases, 'manifest.json'))
        ? distBases
        : resolve(PROJECT_ROOT, 'base-installers')),
  );
  const maxBodyBytes = env.MAX_BODY_BYTES ? Number(env.MAX_BODY_BYTES) : DEFAULT_MAX_BODY_BYTES;
  if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 1024)
    fail(`MAX_BODY_BYTES must be a whole number of at least 1024, not "${env.MAX_BODY_BYTES}".`);
  const bodyTimeoutMs = env.BODY_TIMEOUT_MS ? Number(env.BODY_TIMEOUT_MS) : DEFAULT_BODY_TIMEOUT_MS;
  if (!Number.isInteger(bodyTimeoutMs) || bodyTimeoutMs < 1)
    fail(`BODY_TIMEOUT_MS must be a positive whole number, not "${env.BODY_TIMEOUT_MS}".`);
  return {
    host: env.HOST || DEFAULT_HOST,
    port: parsePort(env.PORT),
    publicUrl: parsePublicUrl(env.PUBLIC_URL),
    dataDir: resolve(env.DATA_DIR || resolve(PROJECT_ROOT, 'data')),
    basePath: normalizeBasePath(env.BASE_PATH ?? '/'),
    distDir,
    basesDir,
    deployment: loadDeploymentSettings(env),
    maxBodyBytes,
    bodyTimeoutMs,
    logRequests: !['0', 'false', 'no', 'off'].includes((env.LOG_REQUESTS ?? '').toLowerCase()),
    keygenConcurrency: parseCount(
      'KEYGEN_CONCURRENCY',
      env.KEYGEN_CONCURRENCY,
      DEFAULT_KEYGEN_CONCURRENCY,
      1,
      MAX_KEYGEN_THREADS,
    ),
    keygenQueue: parseCount('KEYGEN_QUEUE', env.KEYGEN_QUEUE, DEFAULT_KEYGEN_QUEUE, 0),
    buildThreads: parseCount('BUILD_THREADS', env.BUILD_THREADS, DEFAULT_BUILD_THREADS, 1, 64),
    buildQueue: parseCount('BUILD_QUEUE', env.BUILD_QUEUE, DEFAULT_BUILD_QUEUE, 0),
    rateLimitBuilds: parseCount(
      'RATE_LIMIT_BUILDS',
      env.RATE_LIMIT_BUILDS,
      DEFAULT_RATE_LIMIT_BUILDS,
      0,
      1_000_000,
    ),
    rateLimitDownloads: parseCount(
      'RATE_LIMIT_DOWNLOADS',
      env.RATE_LIMIT_DOWNLOADS,
      DEFAULT_RATE_LIMIT_DOWNLOADS,
      0,
      1_000_000,
    ),
    downloadRateMbit: parseCount(
      'DOWNLOAD_RATE_MBIT',
      env.DOWNLOAD_RATE_MBIT,
      DEFAULT_DOWNLOAD_RATE_MBIT,
      0,
      1_000_000,
    ),
    trustedClients: parseAddresses('TRUSTED_CLIENTS', env.TRUSTED_CLIENTS),
    trustedProxies: parseAddresses('TRUSTED_PROXIES', env.TRUSTED_PROXIES),
    maxConnectionsPerClient: parseCount(
      'MAX_CONNECTIONS_PER_CLIENT',
      env.MAX_CONNECTIONS_PER_CLIENT,
      DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
      0,
      100_000,
    ),
    maxConnections: parseCount(
      'MAX_CONNECTIONS',
      env.MAX_CONNECTIONS,
      DEFAULT_MAX_CONNECTIONS,
      1,
      1_000_000,
    ),
  };
}

/** `http://HOST:PORT` + BASE_PATH for the port actually bound (IPv6 hosts in brackets). */
export function defaultPublicUrl(host: string, port: number, basePath: string): string {
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return `http://${shownHost}:${port}${basePath.replace(/\/$/, '')}`;
}
