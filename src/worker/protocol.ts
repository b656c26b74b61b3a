/** What the page and its worker say about a base (the calls themselves: cib.worker.ts). */
import type { Platform } from '../core/archive/installer.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';

/** One base installer to fetch: where from, and what it must be. No key material, ever. */
export interface BaseRequest {
  /** Absolute URL, on the origin the page loaded the manifest from. */
  url: string;
  platform: Platform;
  file: string;
  /** The manifest's size, 0 when unknown. */
  size: number;
  /** The manifest's SHA-256, lowercase hex: nothing is built from other bytes. */
  sha256: string;
  /** The update keys this deployment trusts for the base (public keys; see app/page-config.ts). */
  knownKeys: KnownUpdateKey[];
}

/** The work a request is doing right now, as the person should see it. */
export type BaseProgress =
  | { phase: 'downloading'; loaded: number; total: number | undefined }
  | { phase: 'checking' }
  | { phase: 'writing' };
