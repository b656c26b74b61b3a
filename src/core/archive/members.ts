/**
 * Inflating a tgz member by member: the entries members of an append-ready base say their own
 * length (`role=entries deflate=N`, docs/formats.md#append-ready-tgz), so a reader can cut the
 * compressed stream into whole members as they arrive and inflate each on its own, with the
 * platform's native inflater and on several threads where the caller has them. The inflated
 * members are then read in order by the one tar reader (walk.ts), exactly as a sequential reader
 * would read them.
 *
 * A member inflater must refuse anything but exactly one complete gzip member: bytes after its
 * end, a short member, a wrong CRC-32 or ISIZE. Otherwise a member whose declared length is a lie
 * could hide data a sequential reader (`gzip -d`, `tar`) would see. `nativeInflater()` checks this
 * of the platform's `DecompressionStream` before using it. Chromium 156, Firefox ESR 153 and
 * WebKitGTK 2.50 inflate only one member per stream and refuse anything after it (so members go
 * one by one), and pass the check; Node 20's drops trailing bytes silently and fails it (Node
 * callers pass zlib's raw inflate instead, src/host/inflate.ts).
 */
import { concatBytes, read16, read32 } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { GzipReader, GZIP_TRAILER_LENGTH, readGzipHeader, writeStoredGzipMember } from './gzip.ts';
import { MARKER_ID, MARKER_TAG } from './tgz-marker.ts';
import type { TgzWalker } from './walk.ts';

/** One whole gzip member, cut from the stream by its declared length. */
export interface GzipMemberSpan {
  /** The member's bytes: header, deflate data, trailer. */
  bytes: Uint8Array;
  /** Offset of its first byte in the file (for messages). */
  offset: number;
  headerLength: number;
  /** Bytes of deflate data between the header and the trailer. */
  deflateLength: number;
  /** The trailer's CRC-32 and ISIZE (the inflated length; members here are far below 4 GiB). */
  crc: number;
  size: number;
  /**
   * `bytes` is a buffer of its own holding exactly the member, which the inflater may take (move
   * to another thread); otherwise it is a view into the caller's bytes and must be left as it is.
   */
  owned?: boolean;
}

/**
 * Inflates one member: resolves with exactly its `size` inflated bytes, or rejects (a CibError
 * naming the member) when the bytes are not exactly one valid member holding that much.
 */
export type MemberInflater = (member: GzipMemberSpan) => Promise<Uint8Array>;

const ENTRIES_SIZED = new RegExp(
  `^${MARKER_TAG.replace(/[/.]/g, '\\$&')} role=entries deflate=(\\d+)$`,
);
const decoder = new TextDecoder();

/** The gzip header's fixed part; an FEXTRA header is at least this plus XLEN. */
const HEADER_PREFIX = 12;

/**
 * The member at the start of `bytes`: its lengths when it is an entries member that declares its
 * length; `undefined` when it is any other member (read it sequentially); `{ need }` when the
 * header needs that many bytes to be read.
 */
export function sizedMemberAt(
  bytes: Uint8Array,
): { headerLength: number; deflateLength: number; length: number } | { need: number } | undefined {
  if (bytes.length < HEADER_PREFIX) return { need: HEADER_PREFIX };
  // Only our own headers (FEXTRA and nothing else) can carry the length.
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[3] !== 0x04) return undefined;
  const headerLength = HEADER_PREFIX + read16(bytes, 10);
  if (bytes.length < headerLength) return { need: headerLength };
  let header;
  try {
    header = readGzipHeader(bytes.subarray(0, headerLength));
  } catch {
    return undefined; // the sequential reader says what is wrong with it
  }
  const marker = header.subfields.length === 1 ? header.subfields[0]! : undefined;
  if (!marker || marker.id[0] !== MARKER_ID[0] || marker.id[1] !== MARKER_ID[1]) return undefined;
  const match = ENTRIES_SIZED.exec(decoder.decode(marker.data));
  if (!match) return undefined;
  const deflateLength = Number(match[1]);
  if (!Number.isSafeInteger(deflateLength)) return undefined;
  return {
    headerLength,
    deflateLength,
    length: headerLength + deflateLength + GZIP_TRAILER_LENGTH,
  };
}

/** The span for a member cut at its declared length; its trailer read. */
export function memberSpan(
  bytes: Uint8Array,
  offset: number,
  headerLength: number,
  deflateLength: number,
): GzipMemberSpan {
  return {
    bytes,
    offset,
    headerLength,
    deflateLength,
    crc: read32(bytes, bytes.length - 8),
    size: read32(bytes, bytes.length - 4),
  };
}

export function memberError(member: { offset: number }, message: string): CibError {
  return new CibError(
    problem(
      'base.gzip.corrupt',
      `member at byte ${member.offset}`,
      `The gzip data is corrupt (${message}).`,
    ),
  );
}

/**
 * Inflates one whole member with the platform's DecompressionStream into a buffer of exactly
 * `size` bytes; more output than that is refused at once (memory stays bounded by `size`).
 */
export async function inflateMemberNative(
  member: Pick<GzipMemberSpan, 'bytes' | 'offset' | 'size'>,
  /** Where to write it: `size` bytes the caller recycles (default: a new buffer). */
  into?: Uint8Array,
): Promise<Uint8Array> {
  if (into && into.length !== member.size) throw new RangeError('inflateMemberNative: wrong size');
  const out = into ?? new Uint8Array(member.size);
  let at = 0;
  // Written straight in: a Blob's stream would take a trip through the browser's blob store.
  const inflater = new DecompressionStream('gzip');
  const writer = inflater.writable.getWriter();
  const writing = writer.write(member.bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
  writing.catch(() => {}); // its error also ends the reading below
  const reader = inflater.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (at + value.length > out.length) {
        throw memberError(member, 'it holds more than its length field (ISIZE) says');
      }
      out.set(value, at);
      at += value.length;
    }
    await writing;
  } catch (error) {
    await reader.cancel().catch(() => {});
    if (error instanceof CibError) throw error;
    throw memberError(member, error instanceof Error ? error.message : String(error));
  }
  if (at !== out.length) throw memberError(member, 'its length field (ISIZE) does not match');
  return out;
}

let probed: Promise<boolean> | undefined;

/**
 * Whether this platform's DecompressionStream may inflate members one by one: it inflates one
 * member, and refuses a member followed by other bytes (or inflates every member, as Node's does
 * not: it drops what follows silently), a wrong CRC-32 and a cut member. Measured once per thread.
 */
export function nativeInflateSafe(): Promise<boolean> {
  probed ??= (async () => {
    if (typeof DecompressionStream !== 'function') return false;
    const encode = (text: string) => new TextEncoder().encode(text);
    const one = writeStoredGzipMember(encode('cib'));
    const two = writeStoredGzipMember(encode('probe'));
    // Read as inflateMemberNative reads (a writer and a reader, every promise handled): Firefox
    // logs a failed Response body or pipe to the console even when the failure is caught.
    const inflate = async (bytes: Uint8Array): Promise<string | undefined> => {
      const inflater = new DecompressionStream('gzip');
      const writer = inflater.writable.getWriter();
      const writing = writer.write(bytes as Uint8Array<ArrayBuffer>).then(() => writer.close());
      writing.catch(() => {});
      const reader = inflater.readable.getReader();
      const parts: Uint8Array[] = [];
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
        }
        await writing;
      } catch {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      return new TextDecoder().decode(concatBytes(parts));
    };
    const badCrc = one.slice();
    badCrc[badCrc.length - GZIP_TRAILER_LENGTH] = ~one[one.length - GZIP_TRAILER_LENGTH]! & 0xff;
    const joined = new Uint8Array([...one, ...two]);
    const junk = new Uint8Array([...one, 0, 1, 2, 3]);
    const [single, both, trailing, crc, cut] = await Promise.all([
      inflate(one),
      inflate(joined),
      inflate(junk),
      inflate(badCrc),
      inflate(one.subarray(0, one.length - 3)),
    ]);
    return (
      single === 'cib' &&
      (both === undefined || both === 'cibprobe') &&
      trailing === undefined &&
      crc === undefined &&
      cut === undefined
    );
  })();
  return probed;
}

/** The platform's native member inflater, in this thread; undefined where it is not safe. */
export async function nativeInflater(): Promise<MemberInflater | undefined> {
  return (await nativeInflateSafe()) ? inflateMemberNative : undefined;
}

export interface MemberWalkOptions {
  inflate: MemberInflater;
  /** Members inflating more than this are read in pieces instead (WalkLimits.memberBytes). */
  memberBytes: number;
  /** Compressed bytes per piece for what is read in pieces. */
  piece: number;
  /** Members being inflated at once; reading the input waits while that many are. */
  parallel: number;
  /** Called with each member's output once the walker has read it. */
  onMemberRead?: (out: Uint8Array) => void;
  /**
   * Where each member's bytes are copied to be handed out (default: a new buffer when they span
   * several chunks, else a view of the chunk): a caller that recycles buffers gives them here,
   * and every member it is handed is then `owned`.
   */
  allocate?: (length: number) => Uint8Array;
}

/**
 * Feeds a tgz stream to `walker`: while members declare their length, each whole member goes to
 * `inflate` as soon as it has arrived (several at once) and their output to the walker in file
 * order; from the first member that does not (a vesselinfo or end member, any other writer's
 * gzip), the rest is read in pieces by the same GzipReader a sequential walk uses. Stops reading
 * when the walker's visitor is done.
 */
export async function walkMembers(
  input: AsyncIterable<Uint8Array>,
  walker: TgzWalker,
  options: MemberWalkOptions,
): Promise<void> {
  const pending = new PendingBytes(options.allocate);
  /** Inflated bytes of the members handed out so far, for the walk's cap. */
  let promised = 0;
  let sequential: GzipReader | undefined;
  /** Work for the walker in file order, each resolving once it may run. */
  const queue: Promise<() => void>[] = [];

  const runNext = async () => (await queue.shift()!)();
  const enqueue = (work: Promise<() => void>) => {
    work.catch(() => {}); // awaited in turn; an early end must not leave it unhandled
    queue.push(work);
  };
  const readSequentially = (origin: number): GzipReader =>
    new GzipReader((chunk) => walker.pushTar(chunk), { piece: options.piece, origin });
  /** The member's output for the walker: inflated here, or read in pieces when it is large. */
  const memberWork = (span: GzipMemberSpan): Promise<() => void> => {
    if (span.size > options.memberBytes)
      return Promise.resolve(() => readSequentially(span.offset).push(span.bytes, true));
    return options.inflate(span).then((out) => {
      if (out.length !== span.size) {
        throw memberError(span, 'its length field (ISIZE) does not match');
      }
      return () => {
        walker.pushTar(out, true);
        options.onMemberRead?.(out);
      };
    });
  };

  /** Hands out every whole sized member pending; false once a member does not declare its length. */
  const cutMembers = async (): Promise<boolean> => {
    while (pending.length > 0 && !walker.summary.stopped) {
      let sized = sizedMemberAt(pending.front(HEADER_PREFIX));
      if (sized && 'need' in sized) sized = sizedMemberAt(pending.front(sized.need));
      if (sized === undefined) return false;
      if ('need' in sized) return true; // the header is still arriving
      if (pending.length < sized.length) return true;
      const offset = pending.position;
      const { bytes, owned } = pending.take(sized.length);
      const span = memberSpan(bytes, offset, sized.headerLength, sized.deflateLength);
      if (owned) span.owned = true;
      promised += span.size;
      walker.assertWithinTotal(promised);
      enqueue(memberWork(span));
      while (queue.length >= options.parallel) await runNext();
    }
    return true;
  };
  /** From here on every byte goes through one sequential reader, the pending ones first. */
  const goSequential = (): GzipReader => {
    const reader = readSequentially(pending.position);
    for (const chunk of pending.drain()) reader.push(chunk);
    return reader;
  };

  for await (const value of input) {
    if (!value.length) continue;
    if (sequential) {
      sequential.push(value);
    } else {
      pending.push(value);
      if (!(await cutMembers())) {
        while (queue.length > 0) await runNext();
        sequential = goSequential();
      }
    }
    if (walker.summary.stopped) break; // leaving the loop cancels the input
  }
  while (queue.length > 0 && !walker.summary.stopped) await runNext();
  if (walker.summary.stopped) return;
  // A cut member or header at the end (or nothing at all): the sequential reader says so.
  if (!sequential && (pending.length > 0 || pending.position === 0)) sequential = goSequential();
  sequential?.push(new Uint8Array(0), true);
  walker.endTar();
}

/** The bytes received and not yet handed out, as the chunks they came in, and their file offset. */
class PendingBytes {
  private chunks: Uint8Array[] = [];
  /** How many bytes are pending. */
  length = 0;
  /** File offset of the first pending byte. */
  position = 0;

  constructor(private readonly allocate?: (length: number) => Uint8Array) {}

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /**
   * The next `length` bytes, removed: a view into one chunk when they lie in one (and no
   * allocator was given), else copied into a buffer of their own (`owned`).
   */
  take(length: number): { bytes: Uint8Array; owned: boolean } {
    const owned = this.allocate !== undefined || this.chunks[0]!.length < length;
    const bytes = owned ? this.joined(length) : this.chunks[0]!.subarray(0, length);
    this.discard(length);
    return { bytes, owned };
  }

  /** Drops the next `length` pending bytes. */
  private discard(length: number): void {
    let left = length;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length <= left) {
        this.chunks.shift();
        left -= first.length;
      } else {
        this.chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.length -= length;
    this.position += length;
  }

  /** The first pending chunk, joined with the next ones until it holds `length` bytes (or all). */
  front(length: number): Uint8Array {
    if (this.chunks[0]!.length < length && this.chunks.length > 1) {
      const joined = this.joined(Math.min(length, this.length), true);
      this.discard(joined.length);
      this.chunks.unshift(joined);
      this.length += joined.length;
      this.position -= joined.length;
    }
    return this.chunks[0]!;
  }

  /** Every pending chunk, removed; the position stays where they start. */
  drain(): Uint8Array[] {
    this.length = 0;
    return this.chunks.splice(0);
  }

  /** The next `length` bytes copied together (into the allocator's buffer unless `fresh`). */
  private joined(length: number, fresh = false): Uint8Array {
    const out = this.allocate && !fresh ? this.allocate(length) : new Uint8Array(length);
    let at = 0;
    for (const chunk of this.chunks) {
      const n = Math.min(chunk.length, length - at);
      out.set(chunk.subarray(0, n), at);
      at += n;
      if (at === length) break;
    }
    return out;
  }
}
