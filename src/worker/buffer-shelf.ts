/**
 * Buffers kept for reuse between the base worker and the inflate pool's threads
 * (inflate-pool.ts). Each member of a base is copied into a buffer, moved to a thread, inflated
 * into another and moved back; instead of a new buffer each time, the moved buffers come back
 * and are written again. Memory that is written for the first time costs a page fault per 4 KiB
 * page; on the virtual machines CI and the benchmarks run on, that was about 4 ms per MiB
 * (a fresh 15 MiB buffer took 62 ms to fill, the same buffer again 1.3 ms), which made fresh
 * buffers a large part of a first build's time there. Only a base's bytes go through here.
 */

/** Buffers are made in steps of this size, so one fits the next member of a similar size. */
const STEP = 256 * 1024;

export class BufferShelf {
  private buffers: ArrayBuffer[] = [];
  private bytes = 0;

  /**
   * At most `most` buffers and `maxBytes` bytes are kept (a hostile base's members may each
   * declare up to the walk's whole cap); any more given back are left to the garbage collector.
   */
  constructor(
    private readonly most: number,
    private readonly maxBytes: number,
  ) {}

  /** `length` bytes to write: the smallest kept buffer that holds them, else a new one. */
  take(length: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.buffers.length; i++) {
      const size = this.buffers[i]!.byteLength;
      if (size >= length && (best < 0 || size < this.buffers[best]!.byteLength)) best = i;
    }
    if (best < 0)
      return new Uint8Array(
        new ArrayBuffer(Math.max(STEP, Math.ceil(length / STEP) * STEP)),
        0,
        length,
      );
    const buffer = this.buffers.splice(best, 1)[0]!;
    this.bytes -= buffer.byteLength;
    return new Uint8Array(buffer, 0, length);
  }

  /** A buffer nothing reads any more (moved here, or done with), for a later `take`. */
  give(buffer: ArrayBufferLike): void {
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0) return; // detached
    if (this.buffers.length < this.most && this.bytes + buffer.byteLength <= this.maxBytes) {
      this.buffers.push(buffer);
      this.bytes += buffer.byteLength;
      return;
    }
    // Full: a larger buffer takes the place of the smallest, which fits fewer members.
    let smallest = 0;
    for (let i = 1; i < this.buffers.length; i++) {
      if (this.buffers[i]!.byteLength < this.buffers[smallest]!.byteLength) smallest = i;
    }
    const replaced = this.buffers[smallest];
    if (
      replaced &&
      replaced.byteLength < buffer.byteLength &&
      this.bytes - replaced.byteLength + buffer.byteLength <= this.maxBytes
    ) {
      this.buffers[smallest] = buffer;
      this.bytes += buffer.byteLength - replaced.byteLength;
    }
  }
}
