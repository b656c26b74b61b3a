/**
 * The base's Blob in pieces (src/worker/pieced-blob.ts): the same bytes, whatever the length, and
 * slices of it read back the bytes they cover.
 */
import { describe, expect, it } from 'vitest';
import { piecedBlob } from '../../src/worker/pieced-blob.ts';

function noise(length: number): Uint8Array {
  let x = length + 1;
  return new Uint8Array(length).map(() => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
}

describe('piecedBlob', () => {
  it('holds exactly the bytes, at every length around its pieces', async () => {
    const MiB = 1 << 20;
    for (const length of [0, 1, 64 * 1024, 64 * 1024 + 1, MiB, MiB + 64 * 1024, 3 * MiB + 12345]) {
      const bytes = noise(length);
      const blob = piecedBlob(bytes);
      expect(blob.size).toBe(length);
      expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
    }
  });

  it('gives slices that read back what they cover, across pieces', async () => {
    const bytes = noise(3 * (1 << 20) + 12345);
    const blob = piecedBlob(bytes);
    for (const [from, to] of [
      [0, bytes.length - 200],
      [(1 << 20) - 3, (1 << 20) + 3],
      [bytes.length - 70_000, bytes.length],
    ] as const) {
      expect(new Uint8Array(await blob.slice(from, to).arrayBuffer())).toEqual(
        bytes.subarray(from, to),
      );
    }
  });
});
