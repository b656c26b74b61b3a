import type { ArchiveFormat, Inspection, Platform } from '../core/archive/index.ts';
import type { KeyPair } from '../core/keygen.ts';
import type { Problem } from '../core/problems.ts';
import type { KeyBits } from '../core/settings.ts';
import type { KnownUpdateKey, SoftwareReport } from '../core/software.ts';

/** Requests the page sends to the worker; each names one core function. */
export type WorkerRequest =
  | { id: number; op: 'generateKeyPair'; bits: KeyBits }
  | {
      id: number;
      op: 'customizeInstaller';
      /** Transferred; handed back in the reply so the page can keep it cached without a copy. */
      base: ArrayBuffer;
      vesselinfo: string;
      platform?: Platform;
      format?: ArchiveFormat;
      expectSha256?: string;
      /** When given, the base's software is checked against these keys before it is used. */
      knownKeys?: KnownUpdateKey[];
    }
  | { id: number; op: 'sha256'; bytes: ArrayBuffer }
  | { id: number; op: 'inspectInstaller'; file: Blob; knownKeys?: KnownUpdateKey[] };

export type WorkerResult =
  | { op: 'generateKeyPair'; keyPair: KeyPair }
  | {
      op: 'customizeInstaller';
      installer: ArrayBuffer;
      base?: ArrayBuffer;
      /** The base's software is signed by an unknown update key. */
      softwareWarning?: string;
    }
  | { op: 'sha256'; hex: string; bytes: ArrayBuffer }
  | { op: 'inspectInstaller'; inspection: Inspection; software?: SoftwareReport };

export type WorkerReply =
  | { id: number; ok: true; result: WorkerResult }
  | { id: number; ok: false; message: string; problems?: Problem[] };
