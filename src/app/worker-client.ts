import type { Inspection, Platform } from '../core/archive/installer.ts';
import type { KeyPair } from '../core/keygen.ts';
import { CibError } from '../core/problems.ts';
import type { KeyBits, KnownUpdateKey } from '../core/deployment-settings.ts';
import type { SoftwareReport } from '../core/software.ts';
import type {
  BaseProgress,
  BaseRequest,
  WorkerReply,
  WorkerRequest,
  WorkerResult,
} from '../worker/protocol.ts';

export type { BaseProgress, BaseRequest } from '../worker/protocol.ts';

// Requests without their id: the client numbers them.
type Request = WorkerRequest extends infer R
  ? R extends { id: number }
    ? Omit<R, 'id'>
    : never
  : never;

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<
  number,
  {
    resolve: (r: WorkerResult) => void;
    reject: (e: Error) => void;
    progress?: ((p: BaseProgress) => void) | undefined;
  }
>();

/** Started on first use, so a visit that never builds never loads the worker or node-forge. */
function getWorker(): Worker {
  if (worker) return worker;
  const started = new Worker(new URL('../worker/cib.worker.ts', import.meta.url), {
    type: 'module',
    name: 'cib',
  });
  started.onmessage = (event: MessageEvent<WorkerReply>) => {
    const reply = event.data;
    const waiting = pending.get(reply.id);
    if (!waiting) return;
    if ('progress' in reply) {
      waiting.progress?.(reply.progress);
      return;
    }
    pending.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.result);
    else
      waiting.reject(
        reply.problems?.length ? new CibError(reply.problems) : new Error(reply.message),
      );
  };
  started.onerror = (event) => {
    event.preventDefault();
    const error = new Error(
      `The background worker failed: ${event.message || 'it could not start'}.`,
    );
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
    started.terminate();
    worker = undefined;
  };
  worker = started;
  return started;
}

/** Starts the worker ahead of its first job, e.g. while the list of bases is still loading. */
export function startWorker(): void {
  getWorker();
}

function call(
  request: Request,
  transfer: Transferable[] = [],
  progress?: (p: BaseProgress) => void,
): Promise<WorkerResult> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    getWorker().postMessage({ ...request, id } as WorkerRequest, transfer);
  });
}

/** Generates a Seattle key pair off the main thread (core `generateKeyPair`). */
export async function generateKeyPairInWorker(bits: KeyBits): Promise<KeyPair> {
  const result = await call({ op: 'generateKeyPair', bits });
  if (result.op !== 'generateKeyPair') throw new Error('The worker answered the wrong request.');
  return result.keyPair;
}

/**
 * Starts fetching and checking a base in the worker, so a later build only has to write; resolves
 * once the base is verified. The bytes stay in the worker.
 */
export async function prepareBaseInWorker(
  base: BaseRequest,
  onProgress?: (progress: BaseProgress) => void,
): Promise<void> {
  const result = await call({ op: 'prepareBase', base }, [], onProgress);
  if (result.op !== 'prepareBase') throw new Error('The worker answered the wrong request.');
}

/**
 * The donor's installer, built in the worker from the verified base (fetched first if need be):
 * a Blob the page can save as it is, never copied through the main thread.
 */
export async function buildInWorker(options: {
  base: BaseRequest;
  vesselinfo: string;
  platform: Platform;
  mediaType: string;
  onProgress?: (progress: BaseProgress) => void;
}): Promise<{ installer: Blob; software?: SoftwareReport }> {
  const { onProgress, ...request } = options;
  const result = await call({ op: 'buildInstaller', ...request }, [], onProgress);
  if (result.op !== 'buildInstaller') throw new Error('The worker answered the wrong request.');
  return {
    installer: result.installer,
    ...(result.software ? { software: result.software } : {}),
  };
}

/** The QR code of `text` as an SVG document, drawn in the worker. */
export async function qrSvgInWorker(text: string): Promise<string> {
  const result = await call({ op: 'qrCode', text });
  if (result.op !== 'qrCode') throw new Error('The worker answered the wrong request.');
  return result.svg;
}

/**
 * What an installer will do on a node (core `inspectInstaller`) and its software check, read in
 * the worker. The file goes over as a Blob, which the worker streams, so the page never holds it.
 */
export async function inspectInWorker(
  file: Blob,
  knownKeys: KnownUpdateKey[],
): Promise<{ inspection: Inspection; software?: SoftwareReport }> {
  const result = await call({ op: 'inspectInstaller', file, knownKeys });
  if (result.op !== 'inspectInstaller') throw new Error('The worker answered the wrong request.');
  return {
    inspection: result.inspection,
    ...(result.software ? { software: result.software } : {}),
  };
}

/** The platforms among `bases` a build can use without the network (kept by the worker). */
export async function keptBasesInWorker(bases: BaseRequest[]): Promise<Platform[]> {
  const result = await call({ op: 'keptBases', bases });
  if (result.op !== 'keptBases') throw new Error('The worker answered the wrong request.');
  return result.platforms;
}

/** Drops bases kept from `folder` that the current manifest no longer lists (README, "Offline"). */
export async function forgetOtherBasesInWorker(folder: string, keep: BaseRequest[]): Promise<void> {
  const result = await call({ op: 'forgetOtherBases', folder, keep });
  if (result.op !== 'forgetOtherBases') throw new Error('The worker answered the wrong request.');
}
