/**
 * The walk behind `cib customize`'s kept checks (kept-checks.ts): one pass over the base file that
 * runs the checks and computes its SHA-256, with Node's own inflater and digests, and, for an
 * append-ready tgz, where it is cut. Loaded only when a check is not kept already.
 */
import { checkBase, type BaseCheck } from '../core/archive/base-check.ts';
import { findAppendReady } from '../core/archive/tgz-layout.ts';
import type { SpliceCut } from '../core/archive/tgz-marker.ts';
import { MAX_VESSELINFO_BYTES, type InstallerSource } from '../core/archive/walk.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';
import { fileSource, readFileRange } from '../host/files.ts';
import { nodeDigester, sha256Chunks, sha256Hex, sha256Through } from '../host/hash.ts';
import { zlibMemberInflater } from '../host/inflate.ts';

/**
 * `source` with the SHA-256 of every byte the walk reads: a tgz is read in chunks (or streamed),
 * a zip read whole (its directory is at its end), never more than one of them.
 */
function hashing(source: InstallerSource): { source: InstallerSource; digest(): string } {
  let read: { length(): number; digest(): string } | undefined;
  const chunks = source.chunks?.bind(source);
  return {
    source: {
      size: source.size,
      head: (length) => source.head(length),
      stream: () => {
        const through = sha256Through(source.stream());
        read = through;
        return through.stream;
      },
      ...(chunks
        ? {
            chunks: () => {
              const through = sha256Chunks(chunks());
              read = through;
              return through.chunks;
            },
          }
        : {}),
      bytes: async () => {
        const bytes = await source.bytes();
        read = { length: () => bytes.length, digest: () => sha256Hex(bytes) };
        return bytes;
      },
    },
    digest() {
      // Every byte must have been read once, or the SHA-256 would not be the file's.
      const hashed = read?.length() ?? 0;
      if (!read || hashed !== source.size)
        throw new Error(`The base changed size while it was read (${hashed} of ${source.size}).`);
      return read.digest();
    },
  };
}

/** Walks the base file once: its checks, and the SHA-256 of exactly the bytes checked. */
export async function checkBaseFile(
  file: string,
  knownKeys: readonly KnownUpdateKey[],
): Promise<{ check: BaseCheck; sha256: string }> {
  const read = hashing(fileSource(file));
  // Node's own inflater and digests: zlib on the thread pool, members several at once.
  const check = await checkBase(read.source, {
    knownKeys,
    digester: nodeDigester,
    walk: { inflateMember: zlibMemberInflater },
  });
  return { check, sha256: read.digest() };
}

/** The end member is small; a base that already has a vesselinfo member needs up to this much. */
const END_BYTES = 4096;
const TAIL_BYTES = MAX_VESSELINFO_BYTES + (1 << 20);

/**
 * Where an append-ready tgz file is cut, read from its tail (its end marker, checked), with the
 * tail read; undefined for any other tgz, and for one whose marker says a vesselinfo is among its
 * entries.
 */
export function appendReadyTail(
  file: string,
  size: number,
): { cut: SpliceCut; tail: { bytes: Uint8Array; offset: number } } | undefined {
  for (const length of [END_BYTES, TAIL_BYTES]) {
    const offset = Math.max(0, size - length);
    const bytes = readFileRange(file, offset, size - offset);
    const ready = findAppendReady(bytes, offset);
    if (ready) {
      if (ready.marker.vesselinfo === 'inside') return undefined;
      return {
        cut: { cut: ready.cut, cutTar: ready.cutTar, mtime: ready.marker.mtime },
        tail: { bytes, offset },
      };
    }
    if (offset === 0) return undefined;
  }
  return undefined;
}
