/**
 * The base's Blob, made of pieces. An installer is a slice of the base's Blob plus a small new
 * tail, and Chromium copies the bytes of a slice that takes only part of one of a Blob's items:
 * measured in a worker, `new Blob([base.slice(0, size - 200), tail])` took 17 to 25 ms when the
 * 15 MiB base was one item, 4 to 8 ms when it was 1 MiB pieces. Each piece here is 1 MiB, and the
 * last 64 KiB are a piece of their own, so the slice up to the splice (near the end of an
 * append-ready base) copies at most that much.
 */

/** The size of the base's Blob pieces (also those base-store.ts makes while the bytes arrive). */
export const BLOB_PIECE = 1 << 20;
const LAST_PIECE = 64 * 1024;

export function piecedBlob(bytes: Uint8Array): Blob {
  const lastStart = Math.max(0, bytes.length - LAST_PIECE);
  const pieces: Blob[] = [];
  for (let at = 0; at < lastStart;) {
    const end = Math.min(at + BLOB_PIECE, lastStart);
    pieces.push(new Blob([bytes.subarray(at, end) as Uint8Array<ArrayBuffer>]));
    at = end;
  }
  pieces.push(new Blob([bytes.subarray(lastStart) as Uint8Array<ArrayBuffer>]));
  return new Blob(pieces);
}
