import type { Platform } from '../core/archive/index.ts';

/** One entry of `base-installers/manifest.json`. */
export interface BaseEntry {
  platform: Platform;
  file: string;
  size: number;
  sha256: string;
  layout?: 'append-ready' | 'plain';
  version?: string;
}

export interface BaseManifest {
  version: string;
  bases: BaseEntry[];
}

export interface FetchProgress {
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected (from Content-Length, else the manifest), or undefined when unknown. */
  total: number | undefined;
}

const MANIFEST_FILE = 'manifest.json';
/** Bumped when the way bases are stored changes, so old entries are never misread. */
const CACHE_NAME = 'cib-base-installers-v1';
const SHA256_HEX = /^[0-9a-f]{64}$/;

export async function loadManifest(baseInstallersUrl: string): Promise<BaseManifest> {
  const url = new URL(MANIFEST_FILE, baseInstallersUrl);
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch {
    throw new Error(
      `The list of base installers (${url.href}) could not be loaded: the network request failed.`,
    );
  }
  if (!response.ok) {
    throw new Error(
      `The list of base installers (${url.href}) could not be loaded: the server answered ${response.status}.`,
    );
  }
  const raw = (await response.json()) as Partial<BaseManifest>;
  if (!Array.isArray(raw.bases))
    throw new Error(`The list of base installers (${url.href}) has no "bases" array.`);
  const bases = raw.bases.filter(
    (b): b is BaseEntry =>
      typeof b?.platform === 'string' &&
      typeof b.file === 'string' &&
      typeof b.sha256 === 'string' &&
      SHA256_HEX.test(b.sha256),
  );
  return { version: String(raw.version ?? ''), bases };
}

/**
 * Bases held in memory, keyed by their expected SHA-256. An entry is absent while its bytes are
 * lent to the worker (transferred, not copied); `returnBase` puts them back.
 */
const memory = new Map<string, Uint8Array>();

function cacheKey(baseInstallersUrl: string, entry: BaseEntry): string {
  // The digest in the key means a new manifest never reuses an old base.
  return `${new URL(entry.file, baseInstallersUrl).href}?sha256=${entry.sha256}`;
}

async function openCache(): Promise<Cache | undefined> {
  try {
    return 'caches' in globalThis ? await caches.open(CACHE_NAME) : undefined;
  } catch {
    return undefined; // private windows and insecure origins have no Cache API
  }
}

/**
 * The bytes of one base installer: from memory, else the Cache API, else the network (with
 * progress). The caller verifies the SHA-256 (in the worker) and calls `forgetBase` on a mismatch.
 */
export async function fetchBase(
  baseInstallersUrl: string,
  entry: BaseEntry,
  onProgress?: (progress: FetchProgress) => void,
): Promise<Uint8Array> {
  const held = memory.get(entry.sha256);
  if (held) {
    memory.delete(entry.sha256);
    onProgress?.({ loaded: held.byteLength, total: held.byteLength });
    return held;
  }
  const key = cacheKey(baseInstallersUrl, entry);
  const cache = await openCache();
  const cached = await cache?.match(key).catch(() => undefined);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    onProgress?.({ loaded: bytes.byteLength, total: bytes.byteLength });
    return bytes;
  }
  const url = new URL(entry.file, baseInstallersUrl);
  let response: Response;
  try {
    response = await fetch(url);
  } catch {
    throw new Error(
      `The ${entry.platform} base installer (${entry.file}) could not be downloaded: the network request failed.`,
    );
  }
  if (!response.ok || !response.body) {
    throw new Error(
      `The ${entry.platform} base installer (${entry.file}) could not be downloaded: the server answered ${response.status}.`,
    );
  }
  const header = Number(response.headers.get('Content-Length'));
  const total =
    Number.isFinite(header) && header > 0 ? header : entry.size > 0 ? entry.size : undefined;
  // Stored (from a tee of the stream, no extra copy) before verification; a mismatch removes it
  // again through forgetBase.
  const storing = cache?.put(key, response.clone()).catch(() => undefined);
  const bytes = await readWithProgress(response.body, total, onProgress);
  await storing;
  return bytes;
}

async function readWithProgress(
  body: ReadableStream<Uint8Array>,
  total: number | undefined,
  onProgress?: (progress: FetchProgress) => void,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ loaded, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.({ loaded, total });
  }
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Gives a verified base back to the memory cache after the worker returned it. */
export function returnBase(entry: BaseEntry, bytes: Uint8Array): void {
  memory.set(entry.sha256, bytes);
}

/** Drops a base whose bytes did not match the manifest, so the next attempt downloads it afresh. */
export async function forgetBase(baseInstallersUrl: string, entry: BaseEntry): Promise<void> {
  memory.delete(entry.sha256);
  const cache = await openCache();
  await cache?.delete(cacheKey(baseInstallersUrl, entry)).catch(() => false);
}

const manifests = new Map<string, Promise<BaseManifest>>();

/** The manifest, loaded once per page visit (a failed load is retried on the next call). */
export function getManifest(baseInstallersUrl: string): Promise<BaseManifest> {
  let loading = manifests.get(baseInstallersUrl);
  if (!loading) {
    loading = loadManifest(baseInstallersUrl);
    loading.catch(() => manifests.delete(baseInstallersUrl));
    manifests.set(baseInstallersUrl, loading);
  }
  return loading;
}
