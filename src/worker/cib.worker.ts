/// <reference lib="webworker" />
// The worker only wraps core functions for transfer across the thread boundary (STYLE.md).
import { customizeInstaller, inspectInstaller, sha256Hex } from '../core/archive/index.ts';
import { generateKeyPair } from '../core/keygen.ts';
import { CibError } from '../core/problems.ts';
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
      const installer = ownBuffer(output);
      // The base goes back only if the installer does not share its memory.
      const giveBack = installer !== request.base;
      return {
        result: {
          op: 'customizeInstaller',
          installer,
          ...(giveBack ? { base: request.base } : {}),
        },
        transfer: giveBack ? [installer, request.base] : [installer],
      };
    }
    case 'sha256': {
      const hex = await sha256Hex(new Uint8Array(request.bytes));
      return { result: { op: 'sha256', hex, bytes: request.bytes }, transfer: [request.bytes] };
    }
    case 'inspectInstaller': {
      const { file } = request;
      // Streamed from the Blob: a small tgz that inflates to gigabytes costs only the walk's caps.
      const inspection = await inspectInstaller({
        size: file.size,
        head: async (length) => new Uint8Array(await file.slice(0, length).arrayBuffer()),
        stream: () => file.stream(),
        bytes: async () => new Uint8Array(await file.arrayBuffer()),
      });
      return { result: { op: 'inspectInstaller', inspection }, transfer: [] };
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
