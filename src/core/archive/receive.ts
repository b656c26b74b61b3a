/**
 * Receiving a base installer chunk by chunk into one buffer sized from the manifest, so when the
 * last byte lands the base is already whole. The SHA-256 is taken then, in one native digest:
 * measured in Chromium's worker, hashing each chunk with @noble/hashes as it arrived made reading
 * a 15 MiB base from a fast server about three times slower than the download itself, while
 * WebCrypto digests the whole base in a few tens of milliseconds.
 */
import { CibError, problem } from '../problems.ts';
import { sha256Hex } from './installer.ts';

export interface ReceivedBase {
  bytes: Uint8Array;
  /** Lowercase hex. */
  sha256: string;
}

export class BaseReceiver {
  private buffer: Uint8Array;
  private length = 0;
  private finished = false;

  /** `expectedSize` (from the manifest or Content-Length) sizes the buffer once; it may be wrong. */
  constructor(expectedSize?: number) {
    const size =
      expectedSize !== undefined && Number.isSafeInteger(expectedSize) && expectedSize > 0
        ? expectedSize
        : 1 << 20;
    this.buffer = new Uint8Array(size);
  }

  get loaded(): number {
    return this.length;
  }

  /** The bytes received so far (a view, valid until the next push). */
  received(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error('BaseReceiver: push after finish.');
    const needed = this.length + chunk.length;
    if (needed > this.buffer.length) {
      // More bytes than announced: grow geometrically so a wrong size costs few copies.
      const grown = new Uint8Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length = needed;
  }

  /**
   * The whole base, a view of exactly the received length, for the caller to hash (its buffer may
   * be larger, and may be moved); no byte is taken after this.
   */
  whole(): Uint8Array {
    if (this.finished) throw new Error('BaseReceiver: finished twice.');
    this.finished = true;
    if (this.length === 0) {
      throw new CibError(problem('base.format.unknown', 'base', 'The base installer is empty.'));
    }
    return this.buffer.subarray(0, this.length);
  }

  /** The whole base and its SHA-256, taken here. */
  async finish(): Promise<ReceivedBase> {
    const bytes = this.whole();
    return { bytes, sha256: await sha256Hex(bytes) };
  }
}
