/**
 * gzip members (RFC 1952): writing one member with fixed metadata, reading a member header, and
 * decompressing a whole (possibly multi-member) stream while checking every member's CRC-32 and
 * ISIZE. Deflate itself is fflate's; the framing around it is here because fflate neither writes
 * the FEXTRA field nor checks a member's trailer.
 */
import { Gunzip, deflateSync } from 'fflate';
import { concatBytes } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { crc32 } from './crc32.ts';
import { PROFILE_SECTION, profileError } from './profile.ts';
import { holdsZipArchive } from './zip.ts';

// RFC 1952 §2.3: member header. ID1 ID2 CM FLG MTIME(4) XFL OS, then the optional fields.
export const GZIP_ID1 = 0x1f;
export const GZIP_ID2 = 0x8b;
export const GZIP_CM_DEFLATE = 8;
const HEADER_FIXED_LENGTH = 10;
const OFFSET_ID1 = 0;
const OFFSET_ID2 = 1;
const OFFSET_CM = 2;
const OFFSET_FLG = 3;
// MTIME (bytes 4-7) stays 0, "no time stamp is available": output never depends on the clock.
const OFFSET_XFL = 8;
const OFFSET_OS = 9;
const OS_UNIX = 3;
// RFC 1952 §2.3.1: FLG bits (FTEXT, 0x01, is informational only and never read).
const FLG_FHCRC = 0x02;
const FLG_FEXTRA = 0x04;
const FLG_FNAME = 0x08;
const FLG_FCOMMENT = 0x10;
const FLG_RESERVED = 0xe0;
// RFC 1952 §2.3.1.1: extra field = XLEN(2) then subfields SI1 SI2 LEN(2) data.
const SUBFIELD_HEADER_LENGTH = 4;
/** RFC 1952 §2.3: member trailer, CRC32 then ISIZE (length mod 2^32), little-endian. */
export const GZIP_TRAILER_LENGTH = 8;

function badGzip(code: string, where: string, message: string): CibError {
  return new CibError(problem(`base.gzip.${code}`, where, message));
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface GzipSubfield {
  /** RFC 1952 §2.3.1.1 subfield id, two bytes; SI2 must not be 0. */
  id: [number, number];
  data: Uint8Array;
}

/** The member header: fixed fields with MTIME 0 and OS Unix, plus FEXTRA when a subfield is given. */
export function writeGzipHeader(level: number, subfield?: GzipSubfield): Uint8Array {
  const extraLength = subfield ? 2 + SUBFIELD_HEADER_LENGTH + subfield.data.length : 0;
  const header = new Uint8Array(HEADER_FIXED_LENGTH + extraLength);
  header[OFFSET_ID1] = GZIP_ID1;
  header[OFFSET_ID2] = GZIP_ID2;
  header[OFFSET_CM] = GZIP_CM_DEFLATE;
  header[OFFSET_FLG] = subfield ? FLG_FEXTRA : 0;
  header[OFFSET_XFL] = level >= 9 ? 2 : level <= 1 ? 4 : 0; // §2.3.1: 2 slowest, 4 fastest
  header[OFFSET_OS] = OS_UNIX;
  if (subfield) {
    const xlen = SUBFIELD_HEADER_LENGTH + subfield.data.length;
    if (xlen > 0xffff) throw new Error('gzip extra field too long');
    let at = HEADER_FIXED_LENGTH;
    header[at++] = xlen & 0xff;
    header[at++] = xlen >>> 8;
    header[at++] = subfield.id[0];
    header[at++] = subfield.id[1];
    header[at++] = subfield.data.length & 0xff;
    header[at++] = subfield.data.length >>> 8;
    header.set(subfield.data, at);
  }
  return header;
}

/** RFC 1952 §2.3: CRC32 and ISIZE, little-endian. */
export function writeGzipTrailer(crc: number, size: number): Uint8Array {
  const trailer = new Uint8Array(GZIP_TRAILER_LENGTH);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc >>> 0, true);
  view.setUint32(4, size % 2 ** 32, true);
  return trailer;
}

export type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

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

/** RFC 1951 §3.2.4: a stored block holds at most this many bytes (LEN is 16 bits). */
const STORED_BLOCK_MAX = 0xffff;
/** RFC 1951 §3.2.3/§3.2.4: BFINAL in bit 0, BTYPE 00 (stored) in bits 1-2, then pad to the byte. */
const STORED_HEADER_LENGTH = 5;

/**
 * Deflate data made only of stored blocks (RFC 1951 §3.2.4: header byte, LEN, NLEN, the raw
 * bytes): the output depends on nothing but `raw`, whatever compressor version is installed.
 */
export function storedDeflate(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / STORED_BLOCK_MAX));
  const out = new Uint8Array(raw.length + blocks * STORED_HEADER_LENGTH);
  let at = 0;
  for (let i = 0; i < blocks; i++) {
    const part = raw.subarray(i * STORED_BLOCK_MAX, (i + 1) * STORED_BLOCK_MAX);
    out[at] = i === blocks - 1 ? 1 : 0;
    out[at + 1] = part.length & 0xff;
    out[at + 2] = part.length >>> 8;
    out[at + 3] = ~part.length & 0xff;
    out[at + 4] = (~part.length >>> 8) & 0xff;
    out.set(part, at + STORED_HEADER_LENGTH);
    at += STORED_HEADER_LENGTH + part.length;
  }
  return out;
}

/** One gzip member holding `raw` in stored blocks (docs/formats.md#append-ready-tgz). */
export function writeStoredGzipMember(raw: Uint8Array, subfield?: GzipSubfield): Uint8Array {
  return concatBytes([
    writeGzipHeader(0, subfield),
    storedDeflate(raw),
    writeGzipTrailer(crc32(raw), raw.length),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface GzipHeader {
  /** Bytes from the member's first byte to its deflate data. */
  length: number;
  /** RFC 1952 §2.3.1.1 subfields of FEXTRA, in order. */
  subfields: GzipSubfield[];
}

/** Parses the member header at `offset`; throws `base.gzip.*` when it is not one. */
export function readGzipHeader(bytes: Uint8Array, offset = 0): GzipHeader {
  const where = `byte ${offset}`;
  if (bytes.length - offset < HEADER_FIXED_LENGTH) {
    throw badGzip('truncated', where, 'The gzip header is cut short.');
  }
  if (bytes[offset + OFFSET_ID1] !== GZIP_ID1 || bytes[offset + OFFSET_ID2] !== GZIP_ID2) {
    throw badGzip(
      'not-gzip',
      where,
      'This is not gzip data (the gzip signature 1f 8b is missing).',
    );
  }
  if (bytes[offset + OFFSET_CM] !== GZIP_CM_DEFLATE) {
    throw badGzip('method', where, 'The gzip member is not deflate-compressed.');
  }
  const flags = bytes[offset + OFFSET_FLG]!;
  if (flags & FLG_RESERVED)
    throw badGzip('flags', where, 'The gzip header sets reserved flag bits.');
  let at = offset + HEADER_FIXED_LENGTH;
  const subfields: GzipSubfield[] = [];
  const need = (n: number) => {
    if (at + n > bytes.length) throw badGzip('truncated', where, 'The gzip header is cut short.');
  };
  if (flags & FLG_FEXTRA) {
    need(2);
    const xlen = bytes[at]! | (bytes[at + 1]! << 8);
    at += 2;
    need(xlen);
    const end = at + xlen;
    while (at < end) {
      if (at + SUBFIELD_HEADER_LENGTH > end) {
        throw badGzip('extra', where, 'The gzip extra field is malformed.');
      }
      const length = bytes[at + 2]! | (bytes[at + 3]! << 8);
      const start = at + SUBFIELD_HEADER_LENGTH;
      if (start + length > end) throw badGzip('extra', where, 'The gzip extra field is malformed.');
      subfields.push({
        id: [bytes[at]!, bytes[at + 1]!],
        data: bytes.subarray(start, start + length),
      });
      at = start + length;
    }
  }
  for (const flag of [FLG_FNAME, FLG_FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = bytes.indexOf(0, at);
    if (zero < 0) throw badGzip('truncated', where, 'The gzip header is cut short.');
    at = zero + 1;
  }
  if (flags & FLG_FHCRC) {
    need(2);
    at += 2;
  }
  return { length: at - offset, subfields };
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
  readonly memberOffsets: number[] = [0];
  /** An error thrown by `ondata`, passed on as it is rather than reported as corrupt gzip. */
  private downstream: unknown;
  private readonly piece: number;

  /**
   * `piece` is how much compressed input fflate inflates at once; each piece's output is one
   * buffer, so deflate's ~1000:1 ratio makes it the bound on memory for untrusted input.
   */
  constructor(
    private readonly ondata: (chunk: Uint8Array) => void,
    options: { piece?: number } = {},
  ) {
    this.piece = options.piece ?? INFLATE_PIECE;
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
      this.checkTrailer(this.trailerBefore(offset), `byte ${this.memberStart}`);
      this.memberStart = offset;
      this.memberOffsets.push(offset);
      this.uncheckedMember = offset;
      this.checkMemberFlags();
    };
  }

  /** Where a member starts whose first four bytes have not been checked yet (-1: none). */
  private uncheckedMember = 0;

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
      throw profileError(
        'gzip',
        `byte ${at}`,
        `The gzip member at byte ${at} sets a header CRC or reserved flags, which gzip checks and ` +
          `other readers ignore (${PROFILE_SECTION}).`,
      );
    }
  }

  push(chunk: Uint8Array, final = false): void {
    if (this.finished) throw new Error('GzipReader already finished');
    if (this.received === 0 && chunk.length) readGzipHeaderStart(chunk);
    this.kept.push({ start: this.received, bytes: chunk });
    this.received += chunk.length;
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
            `byte ${this.received}`,
            'The gzip data ends too early (the base is truncated).',
          )
        : badGzip(
            'corrupt',
            `member at byte ${this.memberStart}`,
            `The gzip data is corrupt (${message}).`,
          );
    }
    if (final) {
      this.finished = true;
      if (this.received === 0) throw badGzip('truncated', 'byte 0', 'The base is empty.');
      if (this.received - this.memberStart < GZIP_TRAILER_LENGTH + HEADER_FIXED_LENGTH) {
        throw badGzip(
          'truncated',
          `byte ${this.received}`,
          'The gzip data ends too early (the base is truncated).',
        );
      }
      this.checkTrailer(this.trailerBefore(this.received), `byte ${this.memberStart}`);
      this.checkNotZip();
    }
  }

  /**
   * A tgz whose last bytes also hold a zip end record is two archives: unzip would extract the
   * zip from it (docs/formats.md, "Strict archive profile"). Readers look for that record in the
   * last 65,557 bytes, which are kept.
   */
  private checkNotZip(): void {
    const tail = concatBytes(this.kept.map((k) => k.bytes));
    if (holdsZipArchive(tail, Math.max(0, tail.length - ZIP_END_SEARCH))) {
      throw profileError(
        'tgz-zip',
        'end of file',
        `The gzip file also ends like a zip archive: unzip would extract a zip from it (${PROFILE_SECTION}).`,
      );
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
        `byte ${offset}`,
        'A gzip member header is too long to read.',
      );
    }
    return trailer;
  }

  private checkTrailer(trailer: Uint8Array, where: string): void {
    const view = new DataView(trailer.buffer, trailer.byteOffset, trailer.byteLength);
    const crc = view.getUint32(0, true);
    const isize = view.getUint32(4, true);
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
/** A zip end record (22 bytes) and the longest comment: where readers look for one. */
const ZIP_END_SEARCH = 22 + 0xffff;

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
