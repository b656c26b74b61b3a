/// <reference lib="webworker" />
// The worker only wraps core functions for transfer across the thread boundary (STYLE.md).
import {
  customizeInstaller,
  inspectInstaller,
  resolveFormat,
  sha256Hex,
} from '../core/archive/index.ts';
import { checkInstallerSoftware } from '../core/archive/software-walk.ts';
import { blobSource } from '../core/archive/walk.ts';
import { generateKeyPair } from '../core/keygen.ts';
import { CibError, errorsOf } from '../core/problems.ts';
import { softwareBuildProblems } from '../core/software.ts';
import type { WorkerReply, WorkerRequest, WorkerResult } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/** Hands back an ArrayBuffer that is exactly `view`, copying only when the view is a slice. */
function ownBuffer(view: Uint8Array): ArrayBuffer {
  const buffer = view.buffer as ArrayBuffer;
  return view.byteOffset === 0 && view.byteLength === buffer.byteLength
    ? buffer
    : (view.slice().buffer as ArrayBuffer);
}

async function run(
  request: WorkerRequest,
): Promise<{ result: WorkerResult; transfer: Transferable[] }> {
  switch (request.op) {
    case 'generateKeyPair': {
      const keyPair = await generateKeyPair(request.bits);
      return { result: { op: 'generateKeyPair', keyPair }, transfer: [] };
    }
    case 'customizeInstaller': {
      const base = new Uint8Array(request.base);
      const output = await customizeInstaller({
        base,
        vesselinfo: request.vesselinfo,
        ...(request.platform ? { platform: request.platform } : {}),
        ...(request.format ? { format: request.format } : {}),
        ...(request.expectSha256 ? { expectSha256: request.expectSha256 } : {}),
      });
      // The SHA-256 (checked above) proves the base is the one listed; this, that its software
      // is what the update key signed. A refused base gives no installer.
      let softwareWarning: string | undefined;
      if (request.knownKeys) {
        const report = await checkInstallerSoftware(
          base,
          { knownKeys: request.knownKeys },
          resolveFormat(base, request.platform, request.format),
        );
        const problems = report ? softwareBuildProblems(report) : [];
        if (errorsOf(problems).length > 0) throw new CibError(problems);
        softwareWarning = problems[0]?.message;
      }
      const installer = ownBuffer(output);
      // The base goes back only if the installer does not share its memory.
      const giveBack = installer !== request.base;
      return {
        result: {
          op: 'customizeInstaller',
          installer,
          ...(giveBack ? { base: request.base } : {}),
          ...(softwareWarning ? { softwareWarning } : {}),
        },
        transfer: giveBack ? [installer, request.base] : [installer],
      };
    }
    case 'sha256': {
      const hex = await sha256Hex(new Uint8Array(request.bytes));
      return { result: { op: 'sha256', hex, bytes: request.bytes }, transfer: [request.bytes] };
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
  }
}

scope.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  let reply: WorkerReply;
  let transfer: Transferable[] = [];
  try {
    const done = await run(request);
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
