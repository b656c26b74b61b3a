/**
 * The buffers the base worker and the inflate pool's threads write again instead of making new
 * ones (src/worker/buffer-shelf.ts).
 */
import { describe, expect, it } from 'vitest';
import { BufferShelf } from '../../src/worker/buffer-shelf.ts';

describe('BufferShelf', () => {
  it('gives views of exactly the length asked for, in buffers made in 256 KiB steps', () => {
    const shelf = new BufferShelf(4, 64 << 20);
    const view = shelf.take(300_000);
    expect(view.length).toBe(300_000);
    expect(view.byteOffset).toBe(0);
    expect(view.buffer.byteLength).toBe(512 * 1024);
    expect(shelf.take(1).buffer.byteLength).toBe(256 * 1024);
  });

  it('writes a buffer given back again: the smallest that holds the length', () => {
    const shelf = new BufferShelf(4, 64 << 20);
    const small = new ArrayBuffer(256 * 1024);
    const large = new ArrayBuffer(1024 * 1024);
    shelf.give(large);
    shelf.give(small);
    expect(shelf.take(100_000).buffer).toBe(small);
    expect(shelf.take(100_000).buffer).not.toBe(small); // taken: never handed out twice
    const again = new BufferShelf(4, 64 << 20);
    again.give(small);
    again.give(large);
    expect(again.take(300_000).buffer).toBe(large);
    expect(again.take(300_000).buffer).not.toBe(large);
  });

  it('keeps at most `most` buffers, the larger ones, and ignores moved (detached) ones', () => {
    const shelf = new BufferShelf(2, 64 << 20);
    const a = new ArrayBuffer(256 * 1024);
    const b = new ArrayBuffer(512 * 1024);
    const c = new ArrayBuffer(768 * 1024);
    shelf.give(a);
    shelf.give(b);
    shelf.give(c); // full: c takes a's place
    const moved = new ArrayBuffer(1024 * 1024);
    structuredClone(moved, { transfer: [moved] });
    expect(moved.byteLength).toBe(0);
    shelf.give(moved);
    const taken = [shelf.take(1).buffer, shelf.take(1).buffer, shelf.take(1).buffer];
    expect(taken.slice(0, 2)).toEqual(expect.arrayContaining([b, c]));
    expect(taken[0]).toBe(b); // the smallest that fits first
    expect(taken[2]).not.toBe(a);
    expect(taken[2]!.byteLength).toBe(256 * 1024); // a new one
  });

  it('keeps at most `maxBytes` in all', () => {
    const shelf = new BufferShelf(8, 1024 * 1024);
    const a = new ArrayBuffer(512 * 1024);
    const b = new ArrayBuffer(512 * 1024);
    const c = new ArrayBuffer(256 * 1024);
    const huge = new ArrayBuffer(2 * 1024 * 1024);
    shelf.give(huge); // more than the whole shelf holds
    shelf.give(a);
    shelf.give(b);
    shelf.give(c); // would make 1.25 MiB
    expect(shelf.take(1).buffer).toBe(a);
    expect(shelf.take(1).buffer).toBe(b);
    const fresh = shelf.take(1).buffer;
    expect([huge, c]).not.toContain(fresh);
  });
});
