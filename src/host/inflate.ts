/**
 * The member inflater for Node (src/core/archive/members.ts): zlib's raw inflate on libuv's
 * thread pool, so the members of an append-ready base inflate several at once, off the event
 * loop. zlib's gunzip would read past the member (more members, or silently drop trailing bytes),
 * so the deflate data is inflated raw, must end exactly where the member says it does, and the
 * CRC-32 and ISIZE of the trailer are checked here.
 */
import { crc32 as zlibCrc32, inflateRaw, type ZlibOptions } from 'node:zlib';
import { crc32 as jsCrc32 } from '../core/archive/crc32.ts';
import { memberError, type MemberInflater } from '../core/archive/members.ts';

/** zlib's own CRC-32 (Node ≥ 20.15), else the core's. */
const crc32: (data: Uint8Array) => number =
  typeof zlibCrc32 === 'function' ? (data) => zlibCrc32(data) : (data) => jsCrc32(data);

interface InflateInfo {
  buffer: Buffer;
  engine: { bytesWritten: number };
}

function inflateWithInfo(data: Uint8Array, options: ZlibOptions): Promise<InflateInfo> {
  return new Promise((resolve, reject) =>
    inflateRaw(data, { ...options, info: true } as ZlibOptions, (error, result) =>
      error ? reject(error) : resolve(result as unknown as InflateInfo),
    ),
  );
}

export const zlibMemberInflater: MemberInflater = async (member) => {
  const data = member.bytes.subarray(
    member.headerLength,
    member.headerLength + member.deflateLength,
  );
  let result: InflateInfo;
  try {
    // One byte more than the trailer says, so a member holding more is seen, not cut short.
    // The whole output in one buffer: zlib's default 16 KiB pieces would cost a trip between
    // the thread pool and the event loop (and a copy) for each.
    const room = Math.max(64, member.size + 1);
    result = await inflateWithInfo(data, { maxOutputLength: room, chunkSize: room });
  } catch (error) {
    throw memberError(member, (error as Error).message);
  }
  const out = new Uint8Array(result.buffer.buffer, result.buffer.byteOffset, result.buffer.length);
  if (result.engine.bytesWritten !== data.length) {
    throw memberError(member, 'its deflate data ends before the length its header gives');
  }
  if (out.length !== member.size) {
    throw memberError(member, 'its length field (ISIZE) does not match');
  }
  if (crc32(out) >>> 0 !== member.crc >>> 0) {
    throw memberError(member, 'its CRC-32 check fails');
  }
  return out;
};
