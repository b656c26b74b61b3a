import type { ArchiveFormat, Inspection, Platform } from '../core/archive/index.ts';
import type { KeyPair } from '../core/keygen.ts';
import type { Problem } from '../core/problems.ts';
import type { KeyBits } from '../core/settings.ts';

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
    }
  | { id: number; op: 'sha256'; bytes: ArrayBuffer }
  | { id: number; op: 'inspectInstaller'; file: Blob };

export type WorkerResult =
  | { op: 'generateKeyPair'; keyPair: KeyPair }
  | { op: 'customizeInstaller'; installer: ArrayBuffer; base?: ArrayBuffer }
  | { op: 'sha256'; hex: string; bytes: ArrayBuffer }
  | { op: 'inspectInstaller'; inspection: Inspection };

export type WorkerReply =
  | { id: number; ok: true; result: WorkerResult }
  | { id: number; ok: false; message: string; problems?: Problem[] };
