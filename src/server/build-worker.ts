/**
 * A worker thread of the server's installer builder (installers.ts, README "Server and XML-RPC
 * shim"): everything that touches a base's bytes happens here, never on the event loop.
 *
 * - `read` reads a base file into shared memory and computes its SHA-256; `check` runs the core's
 *   base checks on such bytes (`checkBase`: software against the signed metainfo, no ambiguous
 *   vesselinfo). The main thread keeps the bytes, and the check by the base's SHA-256, so a base
 *   is checked once, not once per build.
 * - `build` makes one installer from prepared bytes with the core's `customizeInstallerParts`,
 *   trusting the kept check (so an append-ready base is spliced without another walk), and answers
 *   with the output as pieces: ranges of the shared base, and the few new bytes (the vesselinfo
 *   and the archive's new end). The main thread streams those; no installer is ever held whole.
 *
 * One task is with a thread at a time, so a reply needs no tag to say which task it answers.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { checkBase, type BaseCheck } from '../core/archive/base-check.ts';
import { customizeInstallerParts } from '../core/archive/installer.ts';
import type { ArchiveFormat, Platform } from '../core/platforms.ts';
import { CibError, type Problem } from '../core/problems.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';

export interface ReadRequest {
  kind: 'read';
  file: string;
}
export interface CheckRequest {
  kind: 'check';
  base: SharedArrayBuffer;
  knownKeys: KnownUpdateKey[];
}
export interface BuildRequest {
  kind: 'build';
  base: SharedArrayBuffer;
  /** The base's SHA-256 as prepared (and as the manifest lists it). */
  sha256: string;
  /** The kept check found no entry extracting to the vesselinfo. */
  clean: boolean;
  vesselinfo: string;
  platform: Platform;
  format: ArchiveFormat;
}
export type WorkerRequest = ReadRequest | CheckRequest | BuildRequest;

export interface Read {
  kind: 'read';
  base: SharedArrayBuffer;
  sha256: string;
  /** `size:mtimeMs` of the file as it was read. */
  stamp: string;
}
export interface Checked {
  kind: 'checked';
  /** The core's checks; `software` is undefined for the GUI executable, which it does not read. */
  check: BaseCheck;
}
/** A range of the shared base, or new bytes. */
export type Piece = { start: number; end: number } | Uint8Array;
export interface Built {
  kind: 'built';
  pieces: Piece[];
}
export interface Failed {
  kind: 'failed';
  message: string;
  problems?: Problem[];
}
export type WorkerReply = Read | Checked | Built | Failed;

const READ_PIECE = 1 << 20;

function read({ file }: ReadRequest): Read {
  const fd = openSync(file, 'r');
  let base: SharedArrayBuffer;
  let stamp: string;
  try {
    const info = fstatSync(fd);
    stamp = `${info.size}:${info.mtimeMs}`;
    base = new SharedArrayBuffer(info.size);
    const view = new Uint8Array(base);
    for (let at = 0; at < info.size;) {
      const got = readSync(fd, view, at, Math.min(READ_PIECE, info.size - at), at);
      if (got === 0) throw new Error(`${file} became shorter while it was read.`);
      at += got;
    }
  } finally {
    closeSync(fd);
  }
  const sha256 = createHash('sha256').update(new Uint8Array(base)).digest('hex');
  return { kind: 'read', base, sha256, stamp };
}

async function check({ base, knownKeys }: CheckRequest): Promise<Checked> {
  // The check reads a private copy: WebCrypto, which the software check digests with, refuses
  // views of shared memory.
  return { kind: 'checked', check: await checkBase(new Uint8Array(base).slice(), { knownKeys }) };
}

async function build(request: BuildRequest): Promise<Built> {
  const base = new Uint8Array(request.base);
  const parts = await customizeInstallerParts({
    base,
    vesselinfo: request.vesselinfo,
    platform: request.platform,
    format: request.format,
    expectSha256: request.sha256,
    sha256: request.sha256,
    knownClean: request.clean,
  });
  // New bytes are copied before they are handed over: a part may be a view of a buffer the
  // engine keeps (a constant), which a transfer would take away from it.
  const pieces: Piece[] = parts.map((part) =>
    part.buffer === request.base
      ? { start: part.byteOffset, end: part.byteOffset + part.length }
      : part.slice(),
  );
  return { kind: 'built', pieces };
}

const port = parentPort!;
port.on('message', (request: WorkerRequest) => {
  const work = async (): Promise<WorkerReply> =>
    request.kind === 'read'
      ? read(request)
      : request.kind === 'check'
        ? check(request)
        : build(request);
  work().then(
    (reply) => {
      const transfer =
        reply.kind === 'built'
          ? reply.pieces.flatMap((p) => (p instanceof Uint8Array ? [p.buffer as ArrayBuffer] : []))
          : [];
      port.postMessage(reply, transfer);
    },
    (error: unknown) => {
      const reply: Failed = {
        kind: 'failed',
        message: error instanceof Error ? error.message : String(error),
        ...(error instanceof CibError ? { problems: error.problems } : {}),
      };
      port.postMessage(reply);
    },
  );
});
