/// <reference lib="webworker" />
// The worker wraps core functions for the thread boundary (Comlink; README, "Layout"), and holds
// the base installers (base-store.ts) so their bytes never cross to the page's main thread.
import { expose, releaseProxy, type Remote } from 'comlink';
import { checkInstallerSoftware } from '../core/archive/base-check.ts';
import { inspectInstaller, type Inspection, type Platform } from '../core/archive/installer.ts';
import { blobSource } from '../core/archive/walk.ts';
import type { KeyPair } from '../core/keygen.ts';
import { CibError } from '../core/problems.ts';
import type { KeyBits, KnownUpdateKey } from '../core/deployment-settings.ts';
import type { SoftwareReport } from '../core/software.ts';
import './boundary-errors.ts';
import { generateKeyPairInPage } from './keygen.ts';
import {
  basesSettled,
  buildInstaller,
  fetchAndVerifyBase,
  forgetOtherBases,
  keptBases,
} from './base-store.ts';
import type { BaseProgress, BaseRequest } from './protocol.ts';

/** A progress callback from the page, or none. */
type Progress = ((progress: BaseProgress) => void) | undefined;

/** Runs `work` with the page's progress callback, and lets the callback go when it is done. */
async function withProgress<T>(
  progress: Progress,
  work: (onProgress: (progress: BaseProgress) => void) => Promise<T>,
): Promise<T> {
  // The page sends the callback as a Comlink proxy: here it is a Remote, whose calls are messages.
  const remote = progress as Remote<NonNullable<Progress>> | undefined;
  try {
    return await work((p) => void remote?.(p));
  } finally {
    remote?.[releaseProxy]();
  }
}

/** What the page's worker does; each method names one job (src/app/worker-client.ts calls them). */
const api = {
  generateKeyPair(bits: KeyBits): Promise<KeyPair> {
    return generateKeyPairInPage(bits);
  },

  /** Fetches and checks a base, which stays here; the page learns only its size. */
  async prepareBase(base: BaseRequest, progress?: Progress): Promise<number> {
    return withProgress(
      progress,
      async (onProgress) => (await fetchAndVerifyBase(base, onProgress)).bytes.byteLength,
    );
  },

  buildInstaller(
    request: { base: BaseRequest; vesselinfo: string; platform: Platform; mediaType: string },
    progress?: Progress,
  ): Promise<{ installer: Blob; software?: SoftwareReport }> {
    return withProgress(progress, (onProgress) => buildInstaller({ ...request, onProgress }));
  },

  async qrCode(text: string): Promise<string> {
    // Encoding a long link takes tens of milliseconds: never on the page's main thread, and
    // not while a base is arriving, which this thread reads chunk by chunk.
    await basesSettled();
    const qrcode = await import('qrcode');
    return qrcode.toString(text, { type: 'svg', errorCorrectionLevel: 'L', margin: 2, width: 256 });
  },

  async inspectInstaller(
    file: Blob,
    knownKeys: KnownUpdateKey[],
  ): Promise<{ inspection: Inspection; software?: SoftwareReport }> {
    // Streamed from the Blob: a small tgz that inflates to gigabytes costs only the walk's caps.
    const source = blobSource(file);
    const inspection = await inspectInstaller(source);
    try {
      const now = Math.floor(Date.now() / 1000);
      const software = await checkInstallerSoftware(source, { knownKeys, now });
      return software ? { inspection, software } : { inspection };
    } catch (error) {
      // A damaged archive or one past the caps: the inspection already says why.
      if (!(error instanceof CibError)) throw error;
      return { inspection };
    }
  },

  keptBases(bases: BaseRequest[]): Promise<Platform[]> {
    return keptBases(bases);
  },

  forgetOtherBases(folder: string, keep: BaseRequest[]): Promise<number> {
    return forgetOtherBases(folder, keep);
  },
};

export type CibWorkerApi = typeof api;

expose(api);
