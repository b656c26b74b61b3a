/**
 * Receiving a base installer chunk by chunk: each chunk is hashed (incremental SHA-256) and copied
 * into one buffer as it arrives, so when the last byte lands the base is already whole and its
 * digest needs only finishing. Used by the page's worker while a download is in flight.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { CibError, problem } from '../problems.ts';

export interface ReceivedBase {
  bytes: Uint8Array;
  /** Lowercase hex. */
  sha256: string;
}

export class BaseReceiver {
  private readonly hash = sha256.create();
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

  push(chunk: Uint8Array): void {
    if (this.finished) throw new Error('BaseReceiver: push after finish.');
    this.hash.update(chunk);
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

  /** The whole base and its SHA-256; the bytes are a view of exactly the received length. */
  finish(): ReceivedBase {
    if (this.finished) throw new Error('BaseReceiver: finish called twice.');
    this.finished = true;
    if (this.length === 0) {
      throw new CibError(problem('base.format.unknown', 'base', 'The base installer is empty.'));
    }
    return {
      bytes: this.buffer.subarray(0, this.length),
      sha256: bytesToHex(this.hash.digest()),
    };
  }
}
