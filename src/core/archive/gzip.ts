/**
 * gzip members (RFC 1952): writing one deflated member with fixed metadata, and decompressing a
 * whole (possibly multi-member) stream while checking every member's CRC-32 and ISIZE. Deflate
 * itself is fflate's; the framing around it (gzip-frame.ts, re-exported here) is ours because
 * fflate neither writes the FEXTRA field nor checks a member's trailer.
 */
import { Gunzip, deflateSync } from 'fflate';
import { concatBytes, read32 } from '../bytes.ts';
import { CibError } from '../problems.ts';
import { crc32 } from './crc32.ts';
import { PROFILE_SECTION, profileError } from './profile.ts';
import { ZipTail } from './zip.ts';
import {
  badGzip,
  GZIP_CM_DEFLATE,
  GZIP_ID1,
  GZIP_ID2,
  GZIP_TRAILER_LENGTH,
  HEADER_FIXED_LENGTH,
  writeGzipHeader,
  writeGzipTrailer,
  type DeflateLevel,
  type GzipSubfield,
} from './gzip-frame.ts';

export * from './gzip-frame.ts';

/** One complete gzip member holding `raw`; deterministic for the same bytes, level and subfield. */
export function writeGzipMember(
  raw: Uint8Array,
  level: DeflateLevel,
  subfield?: GzipSubfield,
): Uint8Array {
  const header = writeGzipHeader(level, subfield);
  const body = deflateSync(raw, { level });
  const trailer = writeGzipTrailer(crc32(raw), raw.length);
  return concatBytes([header, body, trailer]);
}

/**
 * Decompresses a gzip stream of one or more members (RFC 1952 §2.2: members are simply
 * concatenated), pushed in chunks, and checks each member's CRC-32 and ISIZE against its trailer
 * as it completes. fflate's Gunzip does the inflating and reports where each next member starts;
 * the trailer of the member before is the 8 bytes ahead of that offset, and the last member's
 * trailer is the last 8 bytes of the input. Recent input is kept only as far as needed to read
 * those trailers, so memory stays bounded.
 */
export class GzipReader {
  private readonly inflater: Gunzip;
  private crc = 0;
  private size = 0;
  /** Input kept to read trailers: chunks with their absolute start offsets. */
  private kept: { start: number; bytes: Uint8Array }[] = [];
  private received = 0;
  private memberStart = 0;
  private finished = false;
  /** Compressed offsets at which each member starts. */
  readonly memberOffsets: number[];
  /** An error thrown by `ondata`, passed on as it is rather than reported as corrupt gzip. */
  private downstream: unknown;
  private readonly piece: number;
  /** Offset of the first byte pushed in the whole file, for messages and `memberOffsets`. */
  private readonly origin: number;

  /**
   * `piece` is how much compressed input fflate inflates at once; each piece's output is one
   * buffer, so deflate's ~1000:1 ratio makes it the bound on memory for untrusted input. `origin`
   * is where the input starts in the file, when a reader took over mid-file.
   */
  constructor(
    private readonly ondata: (chunk: Uint8Array) => void,
    options: { piece?: number; origin?: number } = {},
  ) {
    this.piece = options.piece ?? INFLATE_PIECE;
    this.origin = options.origin ?? 0;
    this.memberOffsets = [this.origin];
    this.inflater = new Gunzip((chunk) => {
      if (!chunk.length) return;
      this.crc = crc32(chunk, this.crc);
      this.size += chunk.length;
      try {
        this.ondata(chunk);
      } catch (error) {
        this.downstream = error;
        throw error;
      }
    });
    this.inflater.onmember = (offset: number) => {
      this.checkTrailer(this.trailerBefore(offset), `byte ${this.origin + this.memberStart}`);
      this.memberStart = offset;
      this.memberOffsets.push(this.origin + offset);
      this.uncheckedMember = offset;
      this.checkMemberFlags();
    };
    // A reader of the whole file also sees its end, where unzip would look for a zip.
    if (this.origin === 0) this.tail = new ZipTail();
  }

  /** Where a member starts (in this reader's input) whose first bytes are not checked yet. */
  private uncheckedMember = 0;
  private tail: ZipTail | undefined;

  /**
   * The profile's gzip (docs/formats.md, "Strict archive profile"): every member deflate, with no
   * header CRC (GNU gzip checks it, Python and fflate do not) and no reserved flag bits.
   */
  private checkMemberFlags(): void {
    const at = this.uncheckedMember;
    if (at < 0 || this.received < at + 4) return;
    const head = new Uint8Array(4);
    for (const { start, bytes } of this.kept) {
      for (let i = Math.max(at, start); i < Math.min(at + 4, start + bytes.length); i++) {
        head[i - at] = bytes[i - start]!;
      }
    }
    this.uncheckedMember = -1;
    if (head[0] !== GZIP_ID1 || head[1] !== GZIP_ID2) return; // fflate reports what is wrong
    if (head[2] !== GZIP_CM_DEFLATE || head[3]! & (FLG_FHCRC | FLG_RESERVED)) {
      const where = this.origin + at;
      throw profileError(
        'gzip',
        `byte ${where}`,
        `The gzip member at byte ${where} sets a header CRC or reserved flags, which gzip checks ` +
          `and other readers ignore (${PROFILE_SECTION}).`,
      );
    }
  }

  push(chunk: Uint8Array, final = false): void {
    if (this.finished) throw new Error('GzipReader already finished');
    if (this.received === 0 && chunk.length) readGzipHeaderStart(chunk);
    this.kept.push({ start: this.received, bytes: chunk });
    this.received += chunk.length;
    this.tail?.push(chunk);
    this.checkMemberFlags();
    this.trimKept();
    try {
      // fflate inflates large inputs faster in pieces (its output buffer stays small).
      for (let at = 0; at < chunk.length || at === 0; at += this.piece) {
        const end = at + this.piece >= chunk.length;
        this.inflater.push(chunk.subarray(at, at + this.piece), final && end);
        if (end) break;
      }
    } catch (error) {
      if (error instanceof CibError || (error === this.downstream && error !== undefined)) {
        throw error;
      }
      const message = (error as Error).message;
      throw /unexpected EOF/i.test(message)
        ? badGzip(
            'truncated',
            `byte ${this.origin + this.received}`,
            'The gzip data ends too early (the base is truncated).',
          )
        : badGzip(
            'corrupt',
            `member at byte ${this.origin + this.memberStart}`,
            `The gzip data is corrupt (${message}).`,
          );
    }
    if (final) {
      this.finished = true;
      if (this.received === 0) {
        if (this.origin === 0) throw badGzip('truncated', 'byte 0', 'The base is empty.');
        return; // a reader that took over at a member boundary, with nothing after it
      }
      if (this.received - this.memberStart < GZIP_TRAILER_LENGTH + HEADER_FIXED_LENGTH) {
        throw badGzip(
          'truncated',
          `byte ${this.origin + this.received}`,
          'The gzip data ends too early (the base is truncated).',
        );
      }
      this.checkTrailer(
        this.trailerBefore(this.received),
        `byte ${this.origin + this.memberStart}`,
      );
      this.tail?.check();
    }
  }

  private trailerBefore(offset: number): Uint8Array {
    const trailer = new Uint8Array(GZIP_TRAILER_LENGTH);
    const from = offset - GZIP_TRAILER_LENGTH;
    for (const { start, bytes } of this.kept) {
      const lo = Math.max(from, start);
      const hi = Math.min(offset, start + bytes.length);
      if (lo < hi) trailer.set(bytes.subarray(lo - start, hi - start), lo - from);
    }
    if (from < (this.kept[0]?.start ?? 0)) {
      throw badGzip(
        'header-too-long',
        `byte ${this.origin + offset}`,
        'A gzip member header is too long to read.',
      );
    }
    return trailer;
  }

  private checkTrailer(trailer: Uint8Array, where: string): void {
    const crc = read32(trailer, 0);
    const isize = read32(trailer, 4);
    if (crc !== this.crc >>> 0) {
      throw badGzip(
        'crc',
        where,
        'The gzip data is corrupt: its CRC-32 check fails (damaged or truncated base).',
      );
    }
    if (isize !== this.size % 2 ** 32) {
      throw badGzip('size', where, 'The gzip data is corrupt: its length check (ISIZE) fails.');
    }
    this.crc = 0;
    this.size = 0;
  }

  /** Keeps at least the last KEEP_BYTES of input plus whatever the current member header needs. */
  private trimKept(): void {
    while (this.kept.length > 1) {
      const first = this.kept[0]!;
      const firstEnd = first.start + first.bytes.length;
      if (this.received - firstEnd < KEEP_BYTES) break;
      this.kept.shift();
    }
  }
}

const INFLATE_PIECE = 1 << 18;
/** RFC 1952 §2.3.1 FLG bits the profile refuses: FHCRC and the reserved ones. */
const FLG_FHCRC = 0x02;
const FLG_RESERVED = 0xe0;

/** Input kept back to find member trailers; a member header longer than this is refused. */
const KEEP_BYTES = 1 << 20;

function readGzipHeaderStart(chunk: Uint8Array): void {
  if (chunk[0] !== GZIP_ID1 || (chunk.length > 1 && chunk[1] !== GZIP_ID2)) {
    throw badGzip(
      'not-gzip',
      'byte 0',
      'This is not gzip data (the gzip signature 1f 8b is missing).',
    );
  }
}

/** Decompresses a whole gzip stream, checking every member's CRC-32 and ISIZE. */
export function gunzipChecked(bytes: Uint8Array): Uint8Array {
  const chunks: Uint8Array[] = [];
  new GzipReader((chunk) => chunks.push(chunk)).push(bytes, true);
  return concatBytes(chunks);
}
