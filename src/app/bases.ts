import type { Platform } from '../core/archive/index.ts';
import type { BaseRequest } from '../worker/protocol.ts';

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

const MANIFEST_FILE = 'manifest.json';
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
 * What the worker needs to fetch one base. The manifest was loaded by the page under its
 * Content-Security-Policy; the worker fetches only from that same origin, so the policy's
 * `connect-src` still decides where bases may come from.
 */
export function baseRequest(baseInstallersUrl: string, entry: BaseEntry): BaseRequest {
  const url = new URL(entry.file, baseInstallersUrl);
  if (url.origin !== new URL(baseInstallersUrl).origin) {
    throw new Error(
      `The ${entry.platform} base installer (${entry.file}) is not on the same site as the list of base installers.`,
    );
  }
  return {
    url: url.href,
    platform: entry.platform,
    file: entry.file,
    size: typeof entry.size === 'number' && entry.size > 0 ? entry.size : 0,
    sha256: entry.sha256.toLowerCase(),
  };
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
