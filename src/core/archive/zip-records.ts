/**
 * The on-disk records of a zip file, one small reader and writer per record. Section numbers are
 * those of PKWARE's APPNOTE.TXT (version 6.3.x). Readers return `undefined` when the signature is
 * wrong or the record runs past the end of the bytes; the caller says what that means.
 * All multi-byte fields are little-endian (APPNOTE 4.4.1.1).
 */
import { read16, read32, read64, write16, write32, write64 } from '../bytes.ts';

/** 0xFFFF / 0xFFFFFFFF in a 16/32-bit field means "see the Zip64 record" (APPNOTE 4.4.1.4). */
export const ZIP64_MARK_16 = 0xffff;
export const ZIP64_MARK_32 = 0xffffffff;

// ---- 4.3.7 local file header ------------------------------------------------------------------

export const LOCAL_SIGNATURE = 0x04034b50;
export const LOCAL_FIXED_LENGTH = 30;
const LOCAL_VERSION_NEEDED = 4;
const LOCAL_FLAGS = 6;
const LOCAL_METHOD = 8;
const LOCAL_TIME = 10;
const LOCAL_DATE = 12;
const LOCAL_CRC32 = 14;
const LOCAL_COMPRESSED_SIZE = 18;
const LOCAL_UNCOMPRESSED_SIZE = 22;
const LOCAL_NAME_LENGTH = 26;
const LOCAL_EXTRA_LENGTH = 28;

export interface LocalHeader {
  versionNeeded: number;
  flags: number;
  method: number;
  dosTime: number;
  dosDate: number;
  crc32: number;
  /** As written in the header: may be 0xFFFFFFFF (Zip64) or 0 (data descriptor follows). */
  compressedSize: number;
  uncompressedSize: number;
  name: Uint8Array;
  extra: Uint8Array;
  /** Fixed part + name + extra: the file data starts this many bytes after the header. */
  length: number;
}

export function readLocalHeader(bytes: Uint8Array, at: number): LocalHeader | undefined {
  if (at < 0 || at + LOCAL_FIXED_LENGTH > bytes.length) return undefined;
  if (read32(bytes, at) !== LOCAL_SIGNATURE) return undefined;
  const nameLength = read16(bytes, at + LOCAL_NAME_LENGTH);
  const extraLength = read16(bytes, at + LOCAL_EXTRA_LENGTH);
  const length = LOCAL_FIXED_LENGTH + nameLength + extraLength;
  if (at + length > bytes.length) return undefined;
  const nameAt = at + LOCAL_FIXED_LENGTH;
  return {
    versionNeeded: read16(bytes, at + LOCAL_VERSION_NEEDED),
    flags: read16(bytes, at + LOCAL_FLAGS),
    method: read16(bytes, at + LOCAL_METHOD),
    dosTime: read16(bytes, at + LOCAL_TIME),
    dosDate: read16(bytes, at + LOCAL_DATE),
    crc32: read32(bytes, at + LOCAL_CRC32),
    compressedSize: read32(bytes, at + LOCAL_COMPRESSED_SIZE),
    uncompressedSize: read32(bytes, at + LOCAL_UNCOMPRESSED_SIZE),
    name: bytes.subarray(nameAt, nameAt + nameLength),
    extra: bytes.subarray(nameAt + nameLength, nameAt + nameLength + extraLength),
    length,
  };
}

export function writeLocalHeader(header: Omit<LocalHeader, 'length'>): Uint8Array {
  const out = new Uint8Array(LOCAL_FIXED_LENGTH + header.name.length + header.extra.length);
  write32(out, 0, LOCAL_SIGNATURE);
  write16(out, LOCAL_VERSION_NEEDED, header.versionNeeded);
  write16(out, LOCAL_FLAGS, header.flags);
  write16(out, LOCAL_METHOD, header.method);
  write16(out, LOCAL_TIME, header.dosTime);
  write16(out, LOCAL_DATE, header.dosDate);
  write32(out, LOCAL_CRC32, header.crc32);
  write32(out, LOCAL_COMPRESSED_SIZE, header.compressedSize);
  write32(out, LOCAL_UNCOMPRESSED_SIZE, header.uncompressedSize);
  write16(out, LOCAL_NAME_LENGTH, header.name.length);
  write16(out, LOCAL_EXTRA_LENGTH, header.extra.length);
  out.set(header.name, LOCAL_FIXED_LENGTH);
  out.set(header.extra, LOCAL_FIXED_LENGTH + header.name.length);
  return out;
}

// ---- 4.3.9 data descriptor (flag bit 3, APPNOTE 4.4.4) ------------------------------------------

export const DESCRIPTOR_SIGNATURE = 0x08074b50;
export const FLAG_DATA_DESCRIPTOR = 1 << 3;
export const FLAG_ENCRYPTED = 1 << 0;
/** 4.4.4 bit 11: the name and comment are UTF-8. */
export const FLAG_UTF8 = 1 << 11;

export interface DataDescriptor {
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Bytes the descriptor occupies (with or without its optional signature, 4.3.9.3). */
  length: number;
}

/** 4.3.9: crc-32 then the two sizes, 4 bytes each or 8 in Zip64 form (4.3.9.2). */
export function readDataDescriptor(
  bytes: Uint8Array,
  at: number,
  zip64: boolean,
  expectedCrc: number,
): DataDescriptor | undefined {
  const sizes = zip64 ? 16 : 8;
  const read = (from: number, length: number): DataDescriptor => ({
    crc32: read32(bytes, from),
    compressedSize: zip64 ? read64(bytes, from + 4) : read32(bytes, from + 4),
    uncompressedSize: zip64 ? read64(bytes, from + 12) : read32(bytes, from + 8),
    length,
  });
  // The signature is optional; a CRC equal to the signature value is read the signed way first.
  if (at + 4 + 4 + sizes <= bytes.length && read32(bytes, at) === DESCRIPTOR_SIGNATURE) {
    if (read32(bytes, at + 4) === expectedCrc) return read(at + 4, 4 + 4 + sizes);
  }
  if (at + 4 + sizes <= bytes.length) return read(at, 4 + sizes);
  return undefined;
}

// ---- 4.3.12 central directory file header ----------------------------------------------------

export const CENTRAL_SIGNATURE = 0x02014b50;
export const CENTRAL_FIXED_LENGTH = 46;
const CENTRAL_MADE_BY = 4;
const CENTRAL_VERSION_NEEDED = 6;
const CENTRAL_FLAGS = 8;
const CENTRAL_METHOD = 10;
const CENTRAL_TIME = 12;
const CENTRAL_DATE = 14;
const CENTRAL_CRC32 = 16;
const CENTRAL_COMPRESSED_SIZE = 20;
const CENTRAL_UNCOMPRESSED_SIZE = 24;
const CENTRAL_NAME_LENGTH = 28;
const CENTRAL_EXTRA_LENGTH = 30;
const CENTRAL_COMMENT_LENGTH = 32;
const CENTRAL_DISK_START = 34;
const CENTRAL_INTERNAL_ATTRIBUTES = 36;
const CENTRAL_EXTERNAL_ATTRIBUTES = 38;
/** Exported: replacing an entry rewrites only this field of later entries' records. */
export const CENTRAL_LOCAL_OFFSET = 42;

export interface CentralRecord {
  madeBy: number;
  versionNeeded: number;
  flags: number;
  method: number;
  dosTime: number;
  dosDate: number;
  crc32: number;
  /** The raw 32-bit fields; 0xFFFFFFFF means the value is in the Zip64 extra field. */
  compressedSize: number;
  uncompressedSize: number;
  diskStart: number;
  internalAttributes: number;
  externalAttributes: number;
  localOffset: number;
  name: Uint8Array;
  extra: Uint8Array;
  comment: Uint8Array;
}

export function centralRecordLength(bytes: Uint8Array, at: number): number {
  return (
    CENTRAL_FIXED_LENGTH +
    read16(bytes, at + CENTRAL_NAME_LENGTH) +
    read16(bytes, at + CENTRAL_EXTRA_LENGTH) +
    read16(bytes, at + CENTRAL_COMMENT_LENGTH)
  );
}

export function readCentralRecord(bytes: Uint8Array, at: number): CentralRecord | undefined {
  if (at < 0 || at + CENTRAL_FIXED_LENGTH > bytes.length) return undefined;
  if (read32(bytes, at) !== CENTRAL_SIGNATURE) return undefined;
  if (at + centralRecordLength(bytes, at) > bytes.length) return undefined;
  const nameAt = at + CENTRAL_FIXED_LENGTH;
  const extraAt = nameAt + read16(bytes, at + CENTRAL_NAME_LENGTH);
  const commentAt = extraAt + read16(bytes, at + CENTRAL_EXTRA_LENGTH);
  const end = commentAt + read16(bytes, at + CENTRAL_COMMENT_LENGTH);
  return {
    madeBy: read16(bytes, at + CENTRAL_MADE_BY),
    versionNeeded: read16(bytes, at + CENTRAL_VERSION_NEEDED),
    flags: read16(bytes, at + CENTRAL_FLAGS),
    method: read16(bytes, at + CENTRAL_METHOD),
    dosTime: read16(bytes, at + CENTRAL_TIME),
    dosDate: read16(bytes, at + CENTRAL_DATE),
    crc32: read32(bytes, at + CENTRAL_CRC32),
    compressedSize: read32(bytes, at + CENTRAL_COMPRESSED_SIZE),
    uncompressedSize: read32(bytes, at + CENTRAL_UNCOMPRESSED_SIZE),
    diskStart: read16(bytes, at + CENTRAL_DISK_START),
    internalAttributes: read16(bytes, at + CENTRAL_INTERNAL_ATTRIBUTES),
    externalAttributes: read32(bytes, at + CENTRAL_EXTERNAL_ATTRIBUTES),
    localOffset: read32(bytes, at + CENTRAL_LOCAL_OFFSET),
    name: bytes.subarray(nameAt, extraAt),
    extra: bytes.subarray(extraAt, commentAt),
    comment: bytes.subarray(commentAt, end),
  };
}

export function writeCentralRecord(record: CentralRecord): Uint8Array {
  const { name, extra, comment } = record;
  const out = new Uint8Array(CENTRAL_FIXED_LENGTH + name.length + extra.length + comment.length);
  write32(out, 0, CENTRAL_SIGNATURE);
  write16(out, CENTRAL_MADE_BY, record.madeBy);
  write16(out, CENTRAL_VERSION_NEEDED, record.versionNeeded);
  write16(out, CENTRAL_FLAGS, record.flags);
  write16(out, CENTRAL_METHOD, record.method);
  write16(out, CENTRAL_TIME, record.dosTime);
  write16(out, CENTRAL_DATE, record.dosDate);
  write32(out, CENTRAL_CRC32, record.crc32);
  write32(out, CENTRAL_COMPRESSED_SIZE, record.compressedSize);
  write32(out, CENTRAL_UNCOMPRESSED_SIZE, record.uncompressedSize);
  write16(out, CENTRAL_NAME_LENGTH, name.length);
  write16(out, CENTRAL_EXTRA_LENGTH, extra.length);
  write16(out, CENTRAL_COMMENT_LENGTH, comment.length);
  write16(out, CENTRAL_DISK_START, record.diskStart);
  write16(out, CENTRAL_INTERNAL_ATTRIBUTES, record.internalAttributes);
  write32(out, CENTRAL_EXTERNAL_ATTRIBUTES, record.externalAttributes);
  write32(out, CENTRAL_LOCAL_OFFSET, record.localOffset);
  out.set(name, CENTRAL_FIXED_LENGTH);
  out.set(extra, CENTRAL_FIXED_LENGTH + name.length);
  out.set(comment, CENTRAL_FIXED_LENGTH + name.length + extra.length);
  return out;
}

// ---- 4.5.3 Zip64 extended information extra field ---------------------------------------------

export const ZIP64_EXTRA_ID = 0x0001;
const EXTRA_BLOCK_HEADER = 4; // 4.5.1: id (2) + data size (2)

export interface Zip64Values {
  uncompressedSize?: number;
  compressedSize?: number;
  localOffset?: number;
  /** Index into `extra` of the 8-byte local-header offset, for rewriting it in place. */
  localOffsetAt?: number;
}

/**
 * 4.5.3: the Zip64 block holds, in this order, only the fields whose 32-bit header value is
 * 0xFFFFFFFF (the disk number, when 0xFFFF, comes last and does not concern us).
 * Returns undefined when a needed value is missing: the record is malformed.
 */
export function readZip64Extra(
  extra: Uint8Array,
  want: { uncompressedSize: boolean; compressedSize: boolean; localOffset: boolean },
): Zip64Values | undefined {
  const values: Zip64Values = {};
  if (!want.uncompressedSize && !want.compressedSize && !want.localOffset) return values;
  for (let at = 0; at + EXTRA_BLOCK_HEADER <= extra.length;) {
    const id = read16(extra, at);
    const size = read16(extra, at + 2);
    const dataAt = at + EXTRA_BLOCK_HEADER;
    if (dataAt + size > extra.length) return undefined;
    if (id === ZIP64_EXTRA_ID) {
      const end = dataAt + size;
      let field = dataAt;
      const take = (): number | undefined => {
        if (field + 8 > end) return undefined;
        field += 8;
        return read64(extra, field - 8);
      };
      if (want.uncompressedSize) {
        values.uncompressedSize = take();
        if (values.uncompressedSize === undefined) return undefined;
      }
      if (want.compressedSize) {
        values.compressedSize = take();
        if (values.compressedSize === undefined) return undefined;
      }
      if (want.localOffset) {
        values.localOffsetAt = field;
        values.localOffset = take();
        if (values.localOffset === undefined) return undefined;
      }
      return values;
    }
    at = dataAt + size;
  }
  return undefined;
}

/** A Zip64 extra block carrying only the local-header offset (for the central record). */
export function writeZip64OffsetExtra(localOffset: number): Uint8Array {
  const out = new Uint8Array(EXTRA_BLOCK_HEADER + 8);
  write16(out, 0, ZIP64_EXTRA_ID);
  write16(out, 2, 8);
  write64(out, EXTRA_BLOCK_HEADER, localOffset);
  return out;
}

// ---- 4.3.16 end of central directory record ---------------------------------------------------

export const END_SIGNATURE = 0x06054b50;
export const END_FIXED_LENGTH = 22;
const END_DISK = 4;
const END_CENTRAL_DISK = 6;
const END_DISK_ENTRIES = 8;
const END_TOTAL_ENTRIES = 10;
const END_CENTRAL_SIZE = 12;
const END_CENTRAL_OFFSET = 16;
const END_COMMENT_LENGTH = 20;
/** The comment is at most 65535 bytes, so the record starts within this distance of the end. */
export const END_MAX_LENGTH = END_FIXED_LENGTH + 0xffff;

export interface EndRecord {
  disk: number;
  centralDisk: number;
  diskEntries: number;
  totalEntries: number;
  centralSize: number;
  centralOffset: number;
  comment: Uint8Array;
}

export function readEndRecord(bytes: Uint8Array, at: number): EndRecord | undefined {
  if (at < 0 || at + END_FIXED_LENGTH > bytes.length) return undefined;
  if (read32(bytes, at) !== END_SIGNATURE) return undefined;
  const commentLength = read16(bytes, at + END_COMMENT_LENGTH);
  if (at + END_FIXED_LENGTH + commentLength > bytes.length) return undefined;
  return {
    disk: read16(bytes, at + END_DISK),
    centralDisk: read16(bytes, at + END_CENTRAL_DISK),
    diskEntries: read16(bytes, at + END_DISK_ENTRIES),
    totalEntries: read16(bytes, at + END_TOTAL_ENTRIES),
    centralSize: read32(bytes, at + END_CENTRAL_SIZE),
    centralOffset: read32(bytes, at + END_CENTRAL_OFFSET),
    comment: bytes.subarray(at + END_FIXED_LENGTH, at + END_FIXED_LENGTH + commentLength),
  };
}

export function writeEndRecord(record: EndRecord): Uint8Array {
  const out = new Uint8Array(END_FIXED_LENGTH + record.comment.length);
  write32(out, 0, END_SIGNATURE);
  write16(out, END_DISK, record.disk);
  write16(out, END_CENTRAL_DISK, record.centralDisk);
  write16(out, END_DISK_ENTRIES, record.diskEntries);
  write16(out, END_TOTAL_ENTRIES, record.totalEntries);
  write32(out, END_CENTRAL_SIZE, record.centralSize);
  write32(out, END_CENTRAL_OFFSET, record.centralOffset);
  write16(out, END_COMMENT_LENGTH, record.comment.length);
  out.set(record.comment, END_FIXED_LENGTH);
  return out;
}

// ---- 4.3.15 Zip64 end of central directory locator -------------------------------------------

export const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
export const ZIP64_LOCATOR_LENGTH = 20;
const LOCATOR_END_DISK = 4;
const LOCATOR_END_OFFSET = 8;
const LOCATOR_TOTAL_DISKS = 16;

export interface Zip64Locator {
  endDisk: number;
  endOffset: number;
  totalDisks: number;
}

export function readZip64Locator(bytes: Uint8Array, at: number): Zip64Locator | undefined {
  if (at < 0 || at + ZIP64_LOCATOR_LENGTH > bytes.length) return undefined;
  if (read32(bytes, at) !== ZIP64_LOCATOR_SIGNATURE) return undefined;
  return {
    endDisk: read32(bytes, at + LOCATOR_END_DISK),
    endOffset: read64(bytes, at + LOCATOR_END_OFFSET),
    totalDisks: read32(bytes, at + LOCATOR_TOTAL_DISKS),
  };
}

export function writeZip64Locator(locator: Zip64Locator): Uint8Array {
  const out = new Uint8Array(ZIP64_LOCATOR_LENGTH);
  write32(out, 0, ZIP64_LOCATOR_SIGNATURE);
  write32(out, LOCATOR_END_DISK, locator.endDisk);
  write64(out, LOCATOR_END_OFFSET, locator.endOffset);
  write32(out, LOCATOR_TOTAL_DISKS, locator.totalDisks);
  return out;
}

// ---- 4.3.14 Zip64 end of central directory record ---------------------------------------------

export const ZIP64_END_SIGNATURE = 0x06064b50;
export const ZIP64_END_FIXED_LENGTH = 56;
/** 4.3.14.1: the size field counts the record minus its first 12 bytes. */
const ZIP64_END_SIZE_EXCLUDES = 12;
const ZIP64_END_SIZE = 4;
const ZIP64_END_MADE_BY = 12;
const ZIP64_END_VERSION_NEEDED = 14;
const ZIP64_END_DISK = 16;
const ZIP64_END_CENTRAL_DISK = 20;
const ZIP64_END_DISK_ENTRIES = 24;
const ZIP64_END_TOTAL_ENTRIES = 32;
const ZIP64_END_CENTRAL_SIZE = 40;
const ZIP64_END_CENTRAL_OFFSET = 48;

export interface Zip64EndRecord {
  madeBy: number;
  versionNeeded: number;
  disk: number;
  centralDisk: number;
  diskEntries: number;
  totalEntries: number;
  centralSize: number;
  centralOffset: number;
  /** 4.3.14.2 "zip64 extensible data sector", kept as it is. */
  extensible: Uint8Array;
}

export function readZip64EndRecord(bytes: Uint8Array, at: number): Zip64EndRecord | undefined {
  if (at < 0 || at + ZIP64_END_FIXED_LENGTH > bytes.length) return undefined;
  if (read32(bytes, at) !== ZIP64_END_SIGNATURE) return undefined;
  const length = read64(bytes, at + ZIP64_END_SIZE) + ZIP64_END_SIZE_EXCLUDES;
  if (length < ZIP64_END_FIXED_LENGTH || at + length > bytes.length) return undefined;
  return {
    madeBy: read16(bytes, at + ZIP64_END_MADE_BY),
    versionNeeded: read16(bytes, at + ZIP64_END_VERSION_NEEDED),
    disk: read32(bytes, at + ZIP64_END_DISK),
    centralDisk: read32(bytes, at + ZIP64_END_CENTRAL_DISK),
    diskEntries: read64(bytes, at + ZIP64_END_DISK_ENTRIES),
    totalEntries: read64(bytes, at + ZIP64_END_TOTAL_ENTRIES),
    centralSize: read64(bytes, at + ZIP64_END_CENTRAL_SIZE),
    centralOffset: read64(bytes, at + ZIP64_END_CENTRAL_OFFSET),
    extensible: bytes.subarray(at + ZIP64_END_FIXED_LENGTH, at + length),
  };
}

export function writeZip64EndRecord(record: Zip64EndRecord): Uint8Array {
  const out = new Uint8Array(ZIP64_END_FIXED_LENGTH + record.extensible.length);
  write32(out, 0, ZIP64_END_SIGNATURE);
  write64(out, ZIP64_END_SIZE, out.length - ZIP64_END_SIZE_EXCLUDES);
  write16(out, ZIP64_END_MADE_BY, record.madeBy);
  write16(out, ZIP64_END_VERSION_NEEDED, record.versionNeeded);
  write32(out, ZIP64_END_DISK, record.disk);
  write32(out, ZIP64_END_CENTRAL_DISK, record.centralDisk);
  write64(out, ZIP64_END_DISK_ENTRIES, record.diskEntries);
  write64(out, ZIP64_END_TOTAL_ENTRIES, record.totalEntries);
  write64(out, ZIP64_END_CENTRAL_SIZE, record.centralSize);
  write64(out, ZIP64_END_CENTRAL_OFFSET, record.centralOffset);
  out.set(record.extensible, ZIP64_END_FIXED_LENGTH);
  return out;
}
