import type { Inspection, Platform } from '../core/archive/installer.ts';
import type { KeyPair } from '../core/keygen.ts';
import type { Problem } from '../core/problems.ts';
import type { KeyBits, KnownUpdateKey } from '../core/deployment-settings.ts';
import type { SoftwareReport } from '../core/software.ts';

/** Requests the page sends to the worker; each names one core function. */
export type WorkerRequest =
  | { id: number; op: 'generateKeyPair'; bits: KeyBits }
  | { id: number; op: 'prepareBase'; base: BaseRequest }
  | {
      id: number;
      op: 'buildInstaller';
      base: BaseRequest;
      vesselinfo: string;
      platform: Platform;
      /** The saved file's media type. */
      mediaType: string;
    }
  | { id: number; op: 'qrCode'; text: string }
  | { id: number; op: 'inspectInstaller'; file: Blob; knownKeys: KnownUpdateKey[] }
  | { id: number; op: 'keptBases'; bases: BaseRequest[] }
  | { id: number; op: 'forgetOtherBases'; folder: string; keep: BaseRequest[] };

export type WorkerResult =
  | { op: 'generateKeyPair'; keyPair: KeyPair }
  | { op: 'prepareBase'; size: number }
  | {
      op: 'buildInstaller';
      installer: Blob;
      /** The base's software check (intact, since the build went ahead), with its notes. */
      software?: SoftwareReport;
    }
  | { op: 'qrCode'; svg: string }
  | { op: 'inspectInstaller'; inspection: Inspection; software?: SoftwareReport }
  /** The platforms of the asked-for bases a build can use without the network. */
  | { op: 'keptBases'; platforms: Platform[] }
  | { op: 'forgetOtherBases'; forgotten: number };

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

export type WorkerReply =
  | { id: number; progress: BaseProgress }
  | { id: number; ok: true; result: WorkerResult }
  | { id: number; ok: false; message: string; problems?: Problem[] };
