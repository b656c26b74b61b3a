/**
 * The page's side of its worker (src/worker/cib.worker.ts), through Comlink: each function here is
 * one call of the worker's API. Progress callbacks cross as Comlink proxies; a CibError thrown in
 * the worker arrives here as a CibError with its problems (src/worker/boundary-errors.ts).
 */
import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import type { Inspection, Platform } from '../core/archive/installer.ts';
import type { KeyPair } from '../core/keygen.ts';
import type { KeyBits, KnownUpdateKey } from '../core/deployment-settings.ts';
import type { SoftwareReport } from '../core/software.ts';
import '../worker/boundary-errors.ts';
import type { CibWorkerApi } from '../worker/cib.worker.ts';
import type { BaseProgress, BaseRequest } from '../worker/protocol.ts';

export type { BaseProgress, BaseRequest } from '../worker/protocol.ts';

interface Connection {
  worker: Worker;
  api: Remote<CibWorkerApi>;
  /** Rejects when the worker fails (it could not start, or it died): every call waiting ends. */
  failed: Promise<never>;
}

let current: Connection | undefined;

/** Started on first use, so a visit that never builds never loads the worker or node-forge. */
function connect(): Connection {
  if (current) return current;
  const worker = new Worker(new URL('../worker/cib.worker.ts', import.meta.url), {
    type: 'module',
    name: 'cib',
  });
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  // Observed here so a failure with no call waiting is not an unhandled rejection.
  failed.catch(() => {});
  const connection: Connection = { worker, api: wrap<CibWorkerApi>(worker), failed };
  worker.onerror = (event) => {
    event.preventDefault();
    fail(new Error(`The background worker failed: ${event.message || 'it could not start'}.`));
    connection.api[releaseProxy]();
    worker.terminate();
    if (current === connection) current = undefined;
  };
  current = connection;
  return connection;
}

/** Starts the worker ahead of its first job, e.g. while the list of bases is still loading. */
export function startWorker(): void {
  connect();
}

/** One call of the worker's API; it ends with the worker's answer, or when the worker fails. */
function call<T>(work: (api: Remote<CibWorkerApi>) => Promise<T>): Promise<T> {
  const { api, failed } = connect();
  return Promise.race([work(api), failed]);
}

/**
 * `onProgress` as a Comlink proxy for one call: progress that arrives after the call has ended
 * (it travels on its own channel) is dropped, so the last thing the page hears is the answer.
 */
async function callWithProgress<T>(
  onProgress: ((progress: BaseProgress) => void) | undefined,
  work: (api: Remote<CibWorkerApi>, progress?: (progress: BaseProgress) => void) => Promise<T>,
): Promise<T> {
  if (!onProgress) return call((api) => work(api));
  let open = true;
  const progress = proxy((update: BaseProgress) => {
    if (open) onProgress(update);
  });
  try {
    return await call((api) => work(api, progress));
  } finally {
    open = false;
  }
}

/** Generates a Seattle key pair off the main thread (core `generateKeyPair`). */
export function generateKeyPairInWorker(bits: KeyBits): Promise<KeyPair> {
  return call((api) => api.generateKeyPair(bits));
}

/**
 * Starts fetching and checking a base in the worker, so a later build only has to write; resolves
 * once the base is verified. The bytes stay in the worker.
 */
export async function prepareBaseInWorker(
  base: BaseRequest,
  onProgress?: (progress: BaseProgress) => void,
): Promise<void> {
  await callWithProgress(onProgress, (api, progress) => api.prepareBase(base, progress));
}

/**
 * The donor's installer, built in the worker from the verified base (fetched first if need be):
 * a Blob the page can save as it is, never copied through the main thread.
 */
export function buildInWorker(options: {
  base: BaseRequest;
  vesselinfo: string;
  platform: Platform;
  mediaType: string;
  onProgress?: (progress: BaseProgress) => void;
}): Promise<{ installer: Blob; software?: SoftwareReport }> {
  const { onProgress, ...request } = options;
  return callWithProgress(onProgress, (api, progress) => api.buildInstaller(request, progress));
}

/** The QR code of `text` as an SVG document, drawn in the worker. */
export function qrSvgInWorker(text: string): Promise<string> {
  return call((api) => api.qrCode(text));
}

/**
 * What an installer will do on a node (core `inspectInstaller`) and its software check, read in
 * the worker. The file goes over as a Blob, which the worker streams, so the page never holds it.
 */
export function inspectInWorker(
  file: Blob,
  knownKeys: KnownUpdateKey[],
): Promise<{ inspection: Inspection; software?: SoftwareReport }> {
  return call((api) => api.inspectInstaller(file, knownKeys));
}

/** The platforms among `bases` a build can use without the network (kept by the worker). */
export function keptBasesInWorker(bases: BaseRequest[]): Promise<Platform[]> {
  return call((api) => api.keptBases(bases));
}

/** Drops bases kept from `folder` that the current manifest no longer lists (README, "Offline"). */
export async function forgetOtherBasesInWorker(folder: string, keep: BaseRequest[]): Promise<void> {
  await call((api) => api.forgetOtherBases(folder, keep));
}
