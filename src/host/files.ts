import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { InstallerSource } from '../core/archive/walk.ts';

// No node:crypto and no node:stream here: loading them costs a short command (`cib customize` of
// a base whose check is kept) more than its work (README, "The command line's speed").

let temporaries = 0;

/**
 * A name for a temp file beside `path`, unique among this process's names (the process id and a
 * count) and unlikely to be taken by another's; it is created with `wx`, so a name that is taken
 * anyway fails the write instead of touching another file.
 */
function temporaryBeside(path: string): string {
  const suffix = `${process.pid}-${++temporaries}-${Math.random().toString(36).slice(2, 10)}`;
  return join(dirname(path), `.${basename(path)}.${suffix}.tmp`);
}

/** The first `length` bytes of a file (fewer when it is shorter); throws when it cannot be read. */
export function readFileHead(path: string, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(length);
    return head.subarray(0, readSync(fd, head, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** Bytes read at once by `fileChunks`: few calls, little memory. */
const CHUNK_BYTES = 1 << 20;

/**
 * A file's bytes from `start` to `end` (default: to its end) in chunks, with plain synchronous
 * reads: no stream machinery to load and drive, which costs a short command more than the reads.
 * Each chunk is a new buffer.
 */
export async function* fileChunks(
  path: string,
  start = 0,
  end = Number.POSITIVE_INFINITY,
): AsyncGenerator<Uint8Array> {
  const fd = openSync(path, 'r');
  try {
    for (let at = start; at < end;) {
      const chunk = new Uint8Array(Math.min(CHUNK_BYTES, end - at));
      const n = readSync(fd, chunk, 0, chunk.length, at);
      if (n === 0) break;
      at += n;
      yield n === chunk.length ? chunk : chunk.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** The chunks as a web stream, read as the stream is pulled. */
function chunkStream(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await chunks.return(undefined);
    },
  });
}

/**
 * A file as the core's InstallerSource: its head and chunks read from disk on demand, so a tgz is
 * inspected without ever being held whole. Throws (the caller names the file) when it cannot be
 * opened.
 */
export function fileSource(path: string): InstallerSource {
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
  return {
    size,
    head: async (length) => readFileHead(path, length),
    stream: () => chunkStream(fileChunks(path)),
    chunks: () => fileChunks(path),
    bytes: async () => readFileSync(path),
  };
}

/**
 * Writes `data` to `path` so that no reader ever sees half a file: a uniquely named temp file in
 * the same folder, fsynced, then renamed over the target. On any error the temp file is removed
 * and the target is untouched.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const temporary = temporaryBeside(path);
  let fd: number | undefined;
  try {
    fd = openSync(temporary, 'wx', mode);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (let written = 0; written < bytes.length;) {
      written += writeSync(fd, bytes, written, bytes.length - written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temporary, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Writes `path` the same way from pieces: `fill` calls `write` for each piece in order (no need to
 * join them first), then `beforeRename` (a last check) runs after the data is on disk and before
 * the rename. Returns the bytes written.
 */
export async function writePiecesAtomic(
  path: string,
  fill: (write: (piece: Uint8Array) => void) => void,
  beforeRename: () => void | Promise<void> = () => {},
  mode = 0o644,
): Promise<number> {
  const temporary = temporaryBeside(path);
  let fd: number | undefined;
  let written = 0;
  try {
    fd = openSync(temporary, 'wx', mode);
    const target = fd;
    fill((piece) => {
      for (let at = 0; at < piece.length;) at += writeSync(target, piece, at, piece.length - at);
      written += piece.length;
    });
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    await beforeRename();
    renameSync(temporary, path);
    return written;
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** `length` bytes of a file from `position` (fewer at its end). */
export function readFileRange(path: string, position: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = new Uint8Array(length);
    return bytes.subarray(0, readSync(fd, bytes, 0, length, position));
  } finally {
    closeSync(fd);
  }
}

/**
 * The first pieces forEachFilePiece reads: a buffer's every new page costs a fault, which on some
 * machines costs more than the read, so a small file is read through a small buffer, and a large
 * one moves on to CHUNK_BYTES (fewer calls) after this much.
 */
const FIRST_PIECE_BYTES = 1 << 16;

/** Calls `each` with every piece of the file in order, read into a reused buffer. */
export function forEachFilePiece(
  path: string,
  each: (piece: Uint8Array, at: number) => void,
): void {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let buffer = new Uint8Array(Math.max(1, Math.min(FIRST_PIECE_BYTES, size)));
    for (let at = 0; ;) {
      if (at >= CHUNK_BYTES && buffer.length < CHUNK_BYTES) buffer = new Uint8Array(CHUNK_BYTES);
      const n = readSync(fd, buffer, 0, buffer.length, at);
      if (n === 0) return;
      each(buffer.subarray(0, n), at);
      at += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Streams `source` into `path` the same way: a temp file beside it, fsynced, and renamed only
 * after the stream ended cleanly and `beforeRename` (a last check) passed. On any error the temp
 * file is removed and the target is untouched.
 */
export async function writeStreamAtomic(
  path: string,
  source: ReadableStream<Uint8Array>,
  beforeRename: () => void | Promise<void> = () => {},
  mode = 0o644,
): Promise<number> {
  const temporary = temporaryBeside(path);
  // Loaded here: node:fs/promises brings Node's readline and stream modules with it.
  const { open } = await import('node:fs/promises');
  const handle = await open(temporary, 'wx', mode);
  let written = 0;
  try {
    const reader = source.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      const chunk = next.value;
      for (let at = 0; at < chunk.length;) {
        const { bytesWritten } = await handle.write(chunk, at, chunk.length - at);
        at += bytesWritten;
      }
      written += chunk.length;
    }
    await handle.sync();
    await handle.close();
    await beforeRename();
    renameSync(temporary, path);
    return written;
  } catch (error) {
    await handle.close().catch(() => {});
    rmSync(temporary, { force: true });
    throw error;
  }
}
