import type { ArchiveFormat, Inspection, Platform } from '../core/archive/index.ts';
import type { KeyPair } from '../core/keygen.ts';
import { CibError } from '../core/problems.ts';
import type { KeyBits } from '../core/settings.ts';
import type { KnownUpdateKey, SoftwareReport } from '../core/software.ts';
import type { WorkerReply, WorkerRequest, WorkerResult } from '../worker/protocol.ts';

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
  { resolve: (r: WorkerResult) => void; reject: (e: Error) => void }
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

function call(request: Request, transfer: Transferable[] = []): Promise<WorkerResult> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    getWorker().postMessage({ ...request, id } as WorkerRequest, transfer);
  });
}

/** Generates a Seattle key pair off the main thread (core `generateKeyPair`). */
export async function generateKeyPairInWorker(bits: KeyBits): Promise<KeyPair> {
  const result = await call({ op: 'generateKeyPair', bits });
  if (result.op !== 'generateKeyPair') throw new Error('The worker answered the wrong request.');
  return result.keyPair;
}

/** An ArrayBuffer holding exactly `bytes`; the view's own buffer when it covers all of it. */
function transferable(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer as ArrayBuffer;
  return bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength
    ? buffer
    : (bytes.slice().buffer as ArrayBuffer);
}

/**
 * Customises a base in the worker (core `customizeInstaller`). `base` is transferred, so the
 * caller's view is detached afterwards; the worker hands the bytes back as `base` when it can.
 */
export async function customizeInWorker(options: {
  base: Uint8Array;
  vesselinfo: string;
  platform?: Platform;
  format?: ArchiveFormat;
  expectSha256?: string;
  knownKeys?: KnownUpdateKey[];
}): Promise<{ installer: Uint8Array; base?: Uint8Array; softwareWarning?: string }> {
  const buffer = transferable(options.base);
  const result = await call(
    {
      op: 'customizeInstaller',
      base: buffer,
      vesselinfo: options.vesselinfo,
      ...(options.platform ? { platform: options.platform } : {}),
      ...(options.format ? { format: options.format } : {}),
      ...(options.expectSha256 ? { expectSha256: options.expectSha256 } : {}),
      ...(options.knownKeys ? { knownKeys: options.knownKeys } : {}),
    },
    [buffer],
  );
  if (result.op !== 'customizeInstaller') throw new Error('The worker answered the wrong request.');
  return {
    installer: new Uint8Array(result.installer),
    ...(result.base ? { base: new Uint8Array(result.base) } : {}),
    ...(result.softwareWarning ? { softwareWarning: result.softwareWarning } : {}),
  };
}

/** SHA-256 of `bytes` as lowercase hex, computed in the worker; the bytes come back with it. */
export async function sha256InWorker(
  bytes: Uint8Array,
): Promise<{ hex: string; bytes: Uint8Array }> {
  const buffer = transferable(bytes);
  const result = await call({ op: 'sha256', bytes: buffer }, [buffer]);
  if (result.op !== 'sha256') throw new Error('The worker answered the wrong request.');
  return { hex: result.hex, bytes: new Uint8Array(result.bytes) };
}

/**
 * What an installer will do on a node (core `inspectInstaller`) and its software check, read in
 * the worker. The file goes over as a Blob, which the worker streams, so the page never holds it.
 */
export async function inspectInWorker(
  file: Blob,
  knownKeys?: KnownUpdateKey[],
): Promise<{ inspection: Inspection; software?: SoftwareReport }> {
  const result = await call(
    { op: 'inspectInstaller', file, ...(knownKeys ? { knownKeys } : {}) },
    [],
  );
  if (result.op !== 'inspectInstaller') throw new Error('The worker answered the wrong request.');
  return {
    inspection: result.inspection,
    ...(result.software ? { software: result.software } : {}),
  };
}
