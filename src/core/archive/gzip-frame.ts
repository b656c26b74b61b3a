/**
 * gzip member framing (RFC 1952) without any compressor: writing a member header with fixed
 * metadata and its trailer, members of stored blocks and of runs of zero bytes, and reading a
 * member header. What needs deflate itself (fflate) is in gzip.ts, so code that only frames
 * members (splicing a checked base) never loads a compressor.
 */
import { concatBytes, read16, write16, write32 } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { crc32 } from './crc32.ts';
// RFC 1952 §2.3: member header. ID1 ID2 CM FLG MTIME(4) XFL OS, then the optional fields.
export const GZIP_ID1 = 0x1f;
export const GZIP_ID2 = 0x8b;
export const GZIP_CM_DEFLATE = 8;
export const HEADER_FIXED_LENGTH = 10;
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

export function badGzip(code: string, where: string, message: string): CibError {
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
    // §2.3.1.1: XLEN, then the subfield's SI1, SI2, LEN and data.
    const at = HEADER_FIXED_LENGTH;
    write16(header, at, xlen);
    header[at + 2] = subfield.id[0];
    header[at + 3] = subfield.id[1];
    write16(header, at + 4, subfield.data.length);
    header.set(subfield.data, at + 2 + SUBFIELD_HEADER_LENGTH);
  }
  return header;
}

/** RFC 1952 §2.3: CRC32 and ISIZE, little-endian. */
export function writeGzipTrailer(crc: number, size: number): Uint8Array {
  const trailer = new Uint8Array(GZIP_TRAILER_LENGTH);
  write32(trailer, 0, crc);
  write32(trailer, 4, size % 2 ** 32);
  return trailer;
}

export type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

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
    write16(out, at + 1, part.length);
    write16(out, at + 3, ~part.length);
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

/** RFC 1951 §3.2.5: the base lengths of length codes 257-285 and their extra bits. */
const LENGTH_BASES = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
];
const LENGTH_EXTRA = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/** The longest match deflate has. */
const MAX_MATCH = 258;

/** Writes bits least significant first, as deflate packs its data (RFC 1951 §3.1.1). */
class BitWriter {
  private bytes: number[] = [];
  private buffer = 0;
  private count = 0;
  /** `length` bits of `value`, least significant first. */
  bits(value: number, length: number): void {
    for (let i = 0; i < length; i++) {
      this.buffer |= ((value >>> i) & 1) << this.count;
      if (++this.count === 8) this.flush();
    }
  }
  /** A Huffman code: its bits go most significant first (§3.1.1). */
  code(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits((value >>> i) & 1, 1);
  }
  end(): Uint8Array {
    if (this.count > 0) this.flush();
    return Uint8Array.from(this.bytes);
  }
  private flush(): void {
    this.bytes.push(this.buffer);
    this.buffer = 0;
    this.count = 0;
  }
}

/** A literal/length symbol in the fixed Huffman code (RFC 1951 §3.2.6). */
function fixedSymbol(out: BitWriter, symbol: number): void {
  if (symbol < 144) out.code(0x30 + symbol, 8);
  else if (symbol < 256) out.code(0x190 + symbol - 144, 9);
  else if (symbol < 280) out.code(symbol - 256, 7);
  else out.code(0xc0 + symbol - 280, 8);
}

/** A match of `length` (3-258) at distance 1: the byte before it, repeated. */
function zeroMatch(out: BitWriter, length: number): void {
  let code = LENGTH_BASES.length - 1;
  while (LENGTH_BASES[code]! > length) code--;
  fixedSymbol(out, 257 + code);
  out.bits(length - LENGTH_BASES[code]!, LENGTH_EXTRA[code]!);
  out.code(0, 5); // distance code 0: distance 1, no extra bits
}

/**
 * Deflate data holding `length` zero bytes, written by this project's own code: one fixed-Huffman
 * block of a literal 0 and matches of the byte before, so it depends on nothing but `length`.
 */
export function zerosDeflate(length: number): Uint8Array {
  const out = new BitWriter();
  out.bits(1, 1); // BFINAL
  out.bits(1, 2); // BTYPE 01: fixed Huffman codes
  let left = length;
  if (left > 0) {
    fixedSymbol(out, 0);
    left--;
  }
  while (left > 0) {
    if (left < 3) {
      fixedSymbol(out, 0);
      left--;
    } else {
      const n = Math.min(left, MAX_MATCH);
      // Never leave 1 or 2 behind when a shorter match avoids it: fewer symbols either way.
      const take = left - n > 0 && left - n < 3 ? n - 3 : n;
      zeroMatch(out, take);
      left -= take;
    }
  }
  fixedSymbol(out, 256); // end of block
  return out.end();
}

/** One gzip member holding `length` zero bytes (zerosDeflate), e.g. a tar's end-of-archive blocks. */
export function writeZerosGzipMember(
  length: number,
  level: DeflateLevel,
  subfield?: GzipSubfield,
): Uint8Array {
  return concatBytes([
    writeGzipHeader(level, subfield),
    zerosDeflate(length),
    writeGzipTrailer(crc32(new Uint8Array(length)), length),
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
    const xlen = read16(bytes, at);
    at += 2;
    need(xlen);
    const end = at + xlen;
    while (at < end) {
      if (at + SUBFIELD_HEADER_LENGTH > end) {
        throw badGzip('extra', where, 'The gzip extra field is malformed.');
      }
      const length = read16(bytes, at + 2);
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
