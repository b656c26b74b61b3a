import { describeProblems } from '../core/problems.ts';
import {
  MANIFEST_FILE,
  parseManifest,
  type BaseManifest,
  type BaseManifestEntry,
} from '../core/manifest.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';
import type { BaseRequest } from '../worker/protocol.ts';

export type { BaseManifest, BaseManifestEntry as BaseEntry } from '../core/manifest.ts';

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
  // The one validated reader: a bad entry is named, never silently dropped.
  const { manifest, problems } = parseManifest(await response.text());
  if (!manifest)
    throw new Error(
      `The list of base installers (${url.href}) is not usable: ${describeProblems(problems)}`,
    );
  return manifest;
}

/**
 * What the worker needs to fetch and check one base. The manifest was loaded by the page under its
 * Content-Security-Policy; the worker fetches only from that same origin, so the policy's
 * `connect-src` still decides where bases may come from.
 */
export function baseRequest(
  baseInstallersUrl: string,
  entry: BaseManifestEntry,
  knownKeys: KnownUpdateKey[],
): BaseRequest {
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
    size: entry.size,
    sha256: entry.sha256,
    knownKeys,
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
