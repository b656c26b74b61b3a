/// <reference lib="webworker" />
// The worker wraps core functions for transfer across the thread boundary, and holds
// the base installers (bases.ts) so their bytes never cross to the page's main thread.
import { checkInstallerSoftware } from '../core/archive/base-check.ts';
import { inspectInstaller } from '../core/archive/installer.ts';
import { blobSource } from '../core/archive/walk.ts';
import { generateKeyPairInPage } from './keygen.ts';
import { CibError } from '../core/problems.ts';
import {
  basesSettled,
  buildInstaller,
  fetchAndVerifyBase,
  forgetOtherBases,
  keptBases,
} from './base-store.ts';
import type { BaseProgress, WorkerReply, WorkerRequest, WorkerResult } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

async function run(
  request: WorkerRequest,
  progress: (progress: BaseProgress) => void,
): Promise<{ result: WorkerResult; transfer: Transferable[] }> {
  switch (request.op) {
    case 'generateKeyPair': {
      const keyPair = await generateKeyPairInPage(request.bits);
      return { result: { op: 'generateKeyPair', keyPair }, transfer: [] };
    }
    case 'prepareBase': {
      const base = await fetchAndVerifyBase(request.base, progress);
      return { result: { op: 'prepareBase', size: base.bytes.byteLength }, transfer: [] };
    }
    case 'buildInstaller': {
      const built = await buildInstaller({ ...request, onProgress: progress });
      return { result: { op: 'buildInstaller', ...built }, transfer: [] };
    }
    case 'qrCode': {
      // Encoding a long link takes tens of milliseconds: never on the page's main thread, and
      // not while a base is arriving, which this thread reads chunk by chunk.
      await basesSettled();
      const qrcode = await import('qrcode');
      const svg = await qrcode.toString(request.text, {
        type: 'svg',
        errorCorrectionLevel: 'L',
        margin: 2,
        width: 256,
      });
      return { result: { op: 'qrCode', svg }, transfer: [] };
    }
    case 'inspectInstaller': {
      // Streamed from the Blob: a small tgz that inflates to gigabytes costs only the walk's caps.
      const source = blobSource(request.file);
      const inspection = await inspectInstaller(source);
      let software;
      try {
        software = await checkInstallerSoftware(source, {
          knownKeys: request.knownKeys,
          now: Math.floor(Date.now() / 1000),
        });
      } catch (error) {
        // A damaged archive or one past the caps: the inspection already says why.
        if (!(error instanceof CibError)) throw error;
      }
      return {
        result: { op: 'inspectInstaller', inspection, ...(software ? { software } : {}) },
        transfer: [],
      };
    }
    case 'keptBases': {
      const platforms = await keptBases(request.bases);
      return { result: { op: 'keptBases', platforms }, transfer: [] };
    }
    case 'forgetOtherBases': {
      const forgotten = await forgetOtherBases(request.folder, request.keep);
      return { result: { op: 'forgetOtherBases', forgotten }, transfer: [] };
    }
  }
}

scope.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const done = await run(request, (progress) => {
      scope.postMessage({ id: request.id, progress } satisfies WorkerReply);
    });
    reply = { id: request.id, ok: true, result: done.result };
    transfer = done.transfer;
  } catch (error) {
    reply =
      error instanceof CibError
        ? { id: request.id, ok: false, message: error.message, problems: error.problems }
        : {
            id: request.id,
            ok: false,
            message: error instanceof Error ? error.message : String(error),
          };
  }
  scope.postMessage(reply, transfer);
};
