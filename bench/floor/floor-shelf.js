/**
 * The floor's buffers that come back (floor-worker.js, floor-pool.js), as the page's
 * (src/worker/buffer-shelf.ts): a kept buffer that holds `length` bytes, else a new one in 256 KiB
 * steps; a view of exactly `length` bytes.
 */
export function bufferFor(shelf, length) {
  const kept = shelf.findIndex((buffer) => buffer.byteLength >= length);
  const buffer =
    kept >= 0 ? shelf.splice(kept, 1)[0] : new ArrayBuffer(Math.ceil(length / 262144) * 262144);
  return new Uint8Array(buffer, 0, length);
}
