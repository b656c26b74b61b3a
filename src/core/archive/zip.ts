/**
 * Customising a zip base installer (docs/formats.md#base-installers): add
 * `seattle/seattle_repy/vesselinfo` without recompressing or touching any existing entry. Every
 * existing local header, its data and its central-directory record, and the archive comment, are
 * copied byte for byte; only the new entry, the central directory's end records and (when
 * replacing) offsets are written.
 *
 * Layout written (APPNOTE.TXT 4.3.6):
 *   [base bytes up to the central directory, minus any old vesselinfo entry]
 *   [new local header + stored vesselinfo data]
 *   [the base's central-directory records] [new central-directory record]
 *   [Zip64 end record + locator, when the base had them or a count/offset needs them]
 *   [end-of-central-directory record with the base's comment]
 */
import { Inflate } from 'fflate';
import { bytesEqual, concatBytes, read16, read32, read64, write32, write64 } from '../bytes.ts';
import { CibError, problem, type Problem } from '../problems.ts';
import { crc32 } from './crc32.ts';
import { extractedPath } from './paths.ts';
import {
  decodeUtf8,
  MAX_ENTRIES,
  PROFILE_SECTION,
  ProfileNames,
  profileError,
  profileProblem,
  showName,
} from './profile.ts';
import {
  CENTRAL_FIXED_LENGTH,
  CENTRAL_LOCAL_OFFSET,
  CENTRAL_SIGNATURE,
  END_FIXED_LENGTH,
  END_MAX_LENGTH,
  END_SIGNATURE,
  FLAG_DATA_DESCRIPTOR,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  ZIP64_END_FIXED_LENGTH,
  ZIP64_EXTRA_ID,
  ZIP64_LOCATOR_LENGTH,
  ZIP64_MARK_16,
  ZIP64_MARK_32,
  centralRecordLength,
  readCentralRecord,
  readDataDescriptor,
  readEndRecord,
  readLocalHeader,
  readZip64EndRecord,
  readZip64Extra,
  readZip64Locator,
  writeCentralRecord,
  writeEndRecord,
  writeLocalHeader,
  writeZip64EndRecord,
  writeZip64Locator,
  writeZip64OffsetExtra,
  type CentralRecord,
  type EndRecord,
  type LocalHeader,
  type Zip64EndRecord,
} from './zip-records.ts';

export const VESSELINFO_ENTRY = 'seattle/seattle_repy/vesselinfo';

/** 4.4.2.2: "version made by" host 3, Unix. */
const ZIP_HOST_UNIX = 3;
/** 4.4.2: upper byte 3 = Unix (external attributes hold st_mode), lower byte 30 = APPNOTE 3.0. */
const MADE_BY_UNIX = (3 << 8) | 30;
const MADE_BY_UNIX_ZIP64 = (3 << 8) | 45;
/** 4.4.3.2: 1.0 suffices for a stored file; 4.5 once a Zip64 field is used. */
const VERSION_STORED = 10;
const VERSION_ZIP64 = 45;
/** 4.4.5 compression methods. */
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
/** 4.4.15 with a Unix "made by": the high 16 bits are st_mode, here a regular file rw-r--r--. */
const REGULAR_FILE_0644 = 0o100644;
/** 4.4.6 MS-DOS date for 1980-01-01, the earliest a zip can say, for a base with no entries. */
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
/** Problems collected per entry before giving up on a hopeless file. */
const MAX_PROBLEMS = 20;

const EMPTY = new Uint8Array(0);
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true });
const latin1Decoder = new TextDecoder('latin1');

/** One entry as the central directory describes it; positions are in the file's bytes. */
export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  dosDate: number;
  dosTime: number;
  madeBy: number;
  externalAttributes: number;
  /** st_mode when the entry was made on Unix (e.g. 0o100755), otherwise undefined. */
  unixMode?: number;
  isDirectory: boolean;
  /** Where every extractor writes it, case kept (`profilePath`: a folder's trailing `/` dropped). */
  exactPath: string;
  /** Where the local header starts, the data starts and the entry (with any descriptor) ends. */
  localHeaderAt: number;
  dataAt: number;
  end: number;
}

/** Names stay bytes while parsing (decoding thousands of them would cost more than the copy). */
interface ParsedEntry extends Omit<ZipEntry, 'name' | 'isDirectory'> {
  nameBytes: Uint8Array;
  /** The name ends in `/`: a folder (its attributes were checked to agree). */
  isDirectoryName: boolean;
  centralAt: number;
  centralLength: number;
  /** File position of a Zip64 8-byte local-header offset, when the offset lives there. */
  zip64OffsetAt?: number;
}

interface ZipLayout {
  entries: ParsedEntry[];
  centralAt: number;
  end: EndRecord;
  zip64?: Zip64EndRecord;
}

function fail(code: string, message: string, path = ''): never {
  throw new CibError(problem(code, path, message));
}

/** 4.4.4 bit 11 says UTF-8; otherwise names are CP437 by the letter, UTF-8 in practice. */
function decodeName(name: Uint8Array, flags: number): string {
  if (flags & FLAG_UTF8) return utf8Decoder.decode(name);
  try {
    return strictUtf8Decoder.decode(name);
  } catch {
    return latin1Decoder.decode(name);
  }
}

/** The record signatures of APPNOTE 4.3: none may hide in the archive comment. */
const SIGNATURE_SECOND_BYTES = [
  [1, 2],
  [3, 4],
  [5, 6],
  [6, 6],
  [6, 7],
  [7, 8],
];

function holdsSignature(bytes: Uint8Array): boolean {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] !== 0x50 || bytes[i + 1] !== 0x4b) continue;
    if (SIGNATURE_SECOND_BYTES.some(([a, b]) => bytes[i + 2] === a && bytes[i + 3] === b)) {
      return true;
    }
  }
  return false;
}

function zipFault(rule: string, entry: string, message: string): never {
  throw profileError(rule, entry, `${message} (${PROFILE_SECTION}).`);
}

/**
 * 4.3.16: the end record is the last thing in the file, followed only by its comment. Scanning
 * backwards, a candidate counts only if its comment reaches exactly the end of the file and its
 * central directory (or Zip64 locator) is where it says, so a comment that happens to contain the
 * signature is not mistaken for the record.
 */
function findEndRecord(bytes: Uint8Array): { at: number; record: EndRecord } {
  const lowest = Math.max(0, bytes.length - END_MAX_LENGTH);
  let trailingAt: number | undefined;
  for (let at = bytes.length - END_FIXED_LENGTH; at >= lowest; at--) {
    if (bytes[at] !== 0x50 || read32(bytes, at) !== END_SIGNATURE) continue;
    const record = readEndRecord(bytes, at);
    if (!record) continue;
    const recordEnd = at + END_FIXED_LENGTH + record.comment.length;
    const plausible =
      record.totalEntries === 0 ||
      readZip64Locator(bytes, at - ZIP64_LOCATOR_LENGTH) !== undefined ||
      readCentralRecord(bytes, at - record.centralSize) !== undefined;
    if (!plausible) continue;
    if (recordEnd === bytes.length) return { at, record };
    trailingAt ??= recordEnd;
  }
  if (trailingAt !== undefined) {
    fail(
      'base.zip.trailing-data',
      `${bytes.length - trailingAt} bytes follow the end-of-central-directory record; ` +
        'a base installer must end with its zip archive.',
    );
  }
  fail(
    'base.zip.end-record-missing',
    'The end-of-central-directory record is missing: the file is truncated or not a zip.',
  );
}

/** Where the central directory is and how many entries it lists. */
interface DirectoryPlace {
  totalEntries: number;
  centralSize: number;
  centralOffset: number;
  /** Where the directory ends: the end record, or the Zip64 end record when there is one. */
  centralEnd: number;
  zip64?: Zip64EndRecord;
}

/**
 * The central directory's place from the end record, or from the Zip64 end record when a locator
 * (4.3.15) sits right before the end record; the two must agree.
 */
function directoryPlace(bytes: Uint8Array, endAt: number, end: EndRecord): DirectoryPlace {
  // 4.3.15: a Zip64 locator sits right before the end record when the Zip64 end record is used.
  const locatorAt = endAt - ZIP64_LOCATOR_LENGTH;
  const locator = readZip64Locator(bytes, locatorAt);
  if (locator) {
    if (locator.endDisk !== 0 || locator.totalDisks > 1) {
      fail('base.zip.multi-disk', 'The zip spans several disks (a split archive); join it first.');
    }
    const record = readZip64EndRecord(bytes, locator.endOffset);
    if (
      !record ||
      locator.endOffset + ZIP64_END_FIXED_LENGTH + record.extensible.length !== locatorAt
    ) {
      fail(
        'base.zip.zip64-end-missing',
        'The Zip64 end-of-central-directory record is missing, damaged or not where its locator says: the file is corrupt or has bytes in front.',
      );
    }
    const zip64 = record;
    if (zip64.disk !== 0 || zip64.centralDisk !== 0 || zip64.diskEntries !== zip64.totalEntries) {
      fail('base.zip.multi-disk', 'The zip spans several disks (a split archive); join it first.');
    }
    const agrees =
      zip64.extensible.length === 0 &&
      (end.totalEntries === ZIP64_MARK_16 || end.totalEntries === zip64.totalEntries) &&
      (end.centralSize === ZIP64_MARK_32 || end.centralSize === zip64.centralSize) &&
      (end.centralOffset === ZIP64_MARK_32 || end.centralOffset === zip64.centralOffset);
    if (!agrees) {
      zipFault(
        'zip64',
        'end of central directory',
        'The Zip64 end record disagrees with the end record (or carries extensible data): ' +
          'readers that use one or the other read different directories',
      );
    }
    const { totalEntries, centralSize, centralOffset } = zip64;
    return { totalEntries, centralSize, centralOffset, centralEnd: locator.endOffset, zip64 };
  }
  if (
    end.totalEntries === ZIP64_MARK_16 ||
    end.centralSize === ZIP64_MARK_32 ||
    end.centralOffset === ZIP64_MARK_32
  ) {
    fail(
      'base.zip.zip64-locator-missing',
      'The end record says the archive uses Zip64 but the Zip64 locator is missing: the file is corrupt.',
    );
  }

  return {
    totalEntries: end.totalEntries,
    centralSize: end.centralSize,
    centralOffset: end.centralOffset,
    centralEnd: endAt,
  };
}

/**
 * The archive's layout, inside the strict profile (docs/formats.md, "Strict archive profile"):
 * one end record, whose comment holds no record signature; Zip64 records only where they agree
 * with it; the central directory where its offset says, so no bytes precede the archive; and
 * entries that tile the file (readCentralDirectory).
 */
function readLayout(bytes: Uint8Array): ZipLayout {
  const { at: endAt, record: end } = findEndRecord(bytes);
  if (end.disk !== 0 || end.centralDisk !== 0 || end.diskEntries !== end.totalEntries) {
    fail('base.zip.multi-disk', 'The zip spans several disks (a split archive); join it first.');
  }
  if (holdsSignature(end.comment)) {
    zipFault(
      'zip-comment',
      'archive comment',
      'The zip comment holds a zip record signature: a reader that searches for the end record ' +
        'from the end of the file (Python) could take a record inside the comment for the real one',
    );
  }
  const { totalEntries, centralSize, centralOffset, centralEnd, zip64 } = directoryPlace(
    bytes,
    endAt,
    end,
  );
  const centralAt = centralEnd - centralSize;
  if (centralAt < 0 || centralAt < centralOffset) {
    fail(
      'base.zip.central-directory-out-of-range',
      'The central directory is not where the end record says: bytes are missing (the file is truncated or corrupt).',
    );
  }
  if (centralAt !== centralOffset) {
    zipFault(
      'zip-layout',
      'start of file',
      `${centralAt - centralOffset} bytes precede the archive (a self-extractor stub?): ` +
        'readers that walk local headers from the start and readers that trust the central ' +
        'directory would see different files',
    );
  }
  if (totalEntries > MAX_ENTRIES) {
    zipFault(
      'entries',
      'central directory',
      `The zip lists ${totalEntries} entries; no installer has more than ${MAX_ENTRIES}`,
    );
  }
  return {
    entries: readCentralDirectory(bytes, centralAt, centralEnd, totalEntries),
    centralAt,
    end,
    ...(zip64 ? { zip64 } : {}),
  };
}

/**
 * 4.3.12 records, each checked against its local header (4.3.7) and data descriptor (4.3.9), and
 * the profile across entries: the local entries tile the file from its first byte to the central
 * directory, in central-directory order, and every name is unique (ProfileNames).
 */
function readCentralDirectory(
  bytes: Uint8Array,
  centralAt: number,
  centralEnd: number,
  totalEntries: number,
): ParsedEntry[] {
  const entries: ParsedEntry[] = [];
  const problems: Problem[] = [];
  const names = new ProfileNames('zip');
  let at = centralAt;
  for (let index = 0; index < totalEntries; index++) {
    const record = readCentralRecord(bytes, at);
    const length = record ? centralRecordLength(bytes, at) : 0;
    if (!record || at + length > centralEnd) {
      fail(
        'base.zip.central-record-damaged',
        `Central-directory record ${index + 1} of ${totalEntries} is damaged or missing: the file is corrupt.`,
        `central directory record ${index + 1}`,
      );
    }
    try {
      const entry = checkEntry(bytes, record, at, length, centralAt, problems);
      if (entry) {
        entry.exactPath = names.add(nameOf(entry), entry.isDirectoryName ? 'directory' : 'file');
        entries.push(entry);
      }
    } catch (error) {
      if (!(error instanceof CibError)) throw error;
      problems.push(...error.problems);
    }
    if (problems.length >= MAX_PROBLEMS) break;
    at += length;
  }
  if (problems.length === 0 && at !== centralEnd) {
    fail(
      'base.zip.central-directory-size-mismatch',
      `The central directory's ${totalEntries} records do not fill the size the end record gives: the file is corrupt.`,
    );
  }
  if (problems.length === 0) checkTiling(bytes, entries, centralAt, problems);
  if (problems.length) throw new CibError(problems);
  return entries;
}

/** 4.4.4 flag bits the profile allows: deflate's speed hints (1, 2), data descriptor (3), UTF-8 (11). */
const ALLOWED_FLAGS = 0x0002 | 0x0004 | FLAG_DATA_DESCRIPTOR | FLAG_UTF8;
/** 4.4.3: what Info-ZIP's unzip 6.0 can extract is 4.6; the profile needs no more than 4.5 (Zip64). */
const MAX_VERSION_NEEDED = 45;
/** 4.5.2 / Info-ZIP's extra.fld: ids whose data only adds times, owners or Zip64 sizes. */
const ALLOWED_EXTRA_IDS = new Map<number, string>([
  [ZIP64_EXTRA_ID, 'Zip64'],
  [0x000a, 'NTFS times'],
  [0x5455, 'extended timestamp'],
  [0x7855, 'Info-ZIP Unix (old)'],
  [0x7875, 'Info-ZIP Unix owner'],
]);
const EXTRA_WORDS = new Map<number, string>([
  [0x7075, 'an Info-ZIP Unicode Path field (0x7075), which renames the entry for unzip only'],
  [0x6375, 'an Info-ZIP Unicode Comment field (0x6375)'],
  [0x9901, 'an AES encryption field (0x9901)'],
  [0x0017, 'a strong-encryption field (0x0017)'],
]);
/** 4.4.15 st_mode file types in the high word of the external attributes. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
/** MS-DOS attributes in the low byte: folder, volume label and the reserved device bit. */
const DOS_DIRECTORY = 0x10;
const DOS_VOLUME = 0x08;
const DOS_DEVICE = 0x40;
/** A deflate stream of nothing: one final fixed block holding only the end code. */
const EMPTY_DEFLATE = [0x03, 0x00];

/** The extra field's blocks (4.5.1), which must fill it exactly, each id once and allowed. */
function checkExtraField(extra: Uint8Array, name: string, where: string): void {
  const seen = new Set<number>();
  for (let at = 0; at < extra.length;) {
    if (at + 4 > extra.length || at + 4 + read16(extra, at + 2) > extra.length) {
      zipFault('zip-extra', name, `The ${where} extra field of ${showName(name)} is malformed`);
    }
    const id = read16(extra, at);
    if (!ALLOWED_EXTRA_IDS.has(id)) {
      const words =
        EXTRA_WORDS.get(id) ??
        `an extra field the profile does not allow (0x${id.toString(16).padStart(4, '0')})`;
      zipFault('zip-extra', name, `The ${where} of ${showName(name)} carries ${words}`);
    }
    if (seen.has(id)) {
      zipFault(
        'zip-extra',
        name,
        `The ${where} of ${showName(name)} carries the extra field 0x${id.toString(16).padStart(4, '0')} twice`,
      );
    }
    seen.add(id);
    at += 4 + read16(extra, at + 2);
  }
}

/** The data of the Zip64 extra block, or undefined when there is none. */
function zip64Block(extra: Uint8Array): Uint8Array | undefined {
  for (let at = 0; at + 4 <= extra.length; at += 4 + read16(extra, at + 2)) {
    if (read16(extra, at) === ZIP64_EXTRA_ID)
      return extra.subarray(at + 4, at + 4 + read16(extra, at + 2));
  }
  return undefined;
}

/** Why an entry cannot be read: said at its name, and the rest of the archive still checked. */
class Refusal {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

const CORRUPT_LOCAL_SIZES =
  'The local header gives a different CRC or size than the central directory: the file is corrupt.';

/**
 * One central record, checked in the order a reader meets it: the record against the profile,
 * its Zip64 values, the local header, the end of its data, and what kind of entry it is. A fault
 * of the profile throws; damage that spoils only this entry is a problem at its name.
 */
function checkEntry(
  bytes: Uint8Array,
  record: CentralRecord,
  centralAt: number,
  centralLength: number,
  centralDirectoryAt: number,
  problems: Problem[],
): ParsedEntry | undefined {
  const name = profileName(record.name, record.flags, record.madeBy);
  checkRecordProfile(record, name);
  const found = (() => {
    const sizes = zip64SizesOf(record, name);
    if (sizes instanceof Refusal) return sizes;
    const local = checkLocalHeader(bytes, record, sizes, centralDirectoryAt, name);
    if (local instanceof Refusal) return local;
    const end = dataEnd(bytes, record, sizes, local, centralDirectoryAt);
    if (end instanceof Refusal) return end;
    return { sizes, local, end };
  })();
  if (found instanceof Refusal) {
    problems.push(problem(found.code, decodeName(record.name, record.flags), found.message));
    return undefined;
  }
  const { sizes, local, end } = found;
  const { directory, unix } = checkKind(bytes, record, sizes, local.dataAt, name);
  const unixMode = record.madeBy >> 8 === 3 ? unix : 0;
  return {
    nameBytes: record.name,
    method: record.method,
    flags: record.flags,
    crc32: record.crc32,
    compressedSize: sizes.compressedSize,
    uncompressedSize: sizes.uncompressedSize,
    dosDate: record.dosDate,
    dosTime: record.dosTime,
    madeBy: record.madeBy,
    externalAttributes: record.externalAttributes,
    ...(unixMode ? { unixMode } : {}),
    localHeaderAt: sizes.localHeaderAt,
    dataAt: local.dataAt,
    end,
    centralAt,
    centralLength,
    isDirectoryName: directory,
    exactPath: '',
    ...(sizes.localOffsetAt !== undefined
      ? {
          zip64OffsetAt:
            centralAt + CENTRAL_FIXED_LENGTH + record.name.length + sizes.localOffsetAt,
        }
      : {}),
  };
}

/** Flags, method, version and disk: the profile's plain zip (4.4.2-4.4.5), and its extra field. */
function checkRecordProfile(record: CentralRecord, name: string): void {
  if (record.flags & FLAG_ENCRYPTED) {
    zipFault('zip-encrypted', name, `The entry ${showName(name)} is encrypted`);
  }
  if (record.flags & ~ALLOWED_FLAGS) {
    zipFault(
      'zip-flags',
      name,
      `The entry ${showName(name)} sets flag bits 0x${(record.flags & ~ALLOWED_FLAGS).toString(16)} (encryption, patches or masked headers) that readers honour differently`,
    );
  }
  if (record.method !== METHOD_STORED && record.method !== METHOD_DEFLATED) {
    zipFault(
      'zip-method',
      name,
      `The entry ${showName(name)} uses compression method ${record.method}; the profile allows only stored (0) and deflate (8)`,
    );
  }
  if ((record.versionNeeded & 0xff) > MAX_VERSION_NEEDED) {
    zipFault(
      'zip-version',
      name,
      `The entry ${showName(name)} says it needs zip version ${(record.versionNeeded & 0xff) / 10}, which unzip skips and others extract`,
    );
  }
  if (record.diskStart !== 0) {
    fail(
      'base.zip.multi-disk',
      'The zip spans several disks (a split archive); join it first.',
      name,
    );
  }
  checkExtraField(record.extra, name, 'central record');
}

/** An entry's sizes and local header offset, from its central record and Zip64 block. */
interface EntrySizes {
  compressedSize: number;
  uncompressedSize: number;
  localHeaderAt: number;
  /** Where the Zip64 local offset sits in the record's extra field, when it has one. */
  localOffsetAt?: number;
}

/** Zip64 (4.5.3): the central record's block holds exactly the values its fields mark. */
function zip64SizesOf(record: CentralRecord, name: string): EntrySizes | Refusal {
  const marks = {
    uncompressedSize: record.uncompressedSize === ZIP64_MARK_32,
    compressedSize: record.compressedSize === ZIP64_MARK_32,
    localOffset: record.localOffset === ZIP64_MARK_32,
  };
  const zip64 = readZip64Extra(record.extra, marks);
  if (!zip64) {
    return new Refusal(
      'base.zip.zip64-extra-damaged',
      'The Zip64 sizes or offset of this entry are missing.',
    );
  }
  const markedCount =
    Number(marks.uncompressedSize) + Number(marks.compressedSize) + Number(marks.localOffset);
  if ((zip64Block(record.extra)?.length ?? 0) !== 8 * markedCount) {
    zipFault(
      'zip64',
      name,
      `The Zip64 field of ${showName(name)} holds other values than the ones its central record marks`,
    );
  }
  return {
    compressedSize: zip64.compressedSize ?? record.compressedSize,
    uncompressedSize: zip64.uncompressedSize ?? record.uncompressedSize,
    localHeaderAt: zip64.localOffset ?? record.localOffset,
    ...(zip64.localOffsetAt !== undefined ? { localOffsetAt: zip64.localOffsetAt } : {}),
  };
}

/** The local header as read, its sizes through its own Zip64 block, and where its data starts. */
interface CheckedLocal {
  header: LocalHeader;
  /** The local header holds a Zip64 block (so a data descriptor is Zip64-sized). */
  zip64: boolean;
  compressedSize: number;
  uncompressedSize: number;
  dataAt: number;
}

/** The local header agrees with the central record: same name, method, flags and Zip64 shape. */
function checkLocalHeader(
  bytes: Uint8Array,
  record: CentralRecord,
  sizes: EntrySizes,
  centralDirectoryAt: number,
  name: string,
): CheckedLocal | Refusal {
  const at = sizes.localHeaderAt;
  const local = at < centralDirectoryAt ? readLocalHeader(bytes, at) : undefined;
  if (!local) {
    return new Refusal(
      'base.zip.local-header-missing',
      'The local header is missing where the central directory says it starts: the file is truncated or corrupt.',
    );
  }
  if (!bytesEqual(local.name, record.name) || local.method !== record.method) {
    return new Refusal(
      'base.zip.local-header-mismatch',
      'The local header names a different file or method than the central directory: the file is corrupt.',
    );
  }
  if (local.flags !== record.flags || (local.versionNeeded & 0xff) > MAX_VERSION_NEEDED) {
    zipFault(
      'zip-local',
      name,
      `The local header of ${showName(name)} has other flags or version than its central record: readers that use one or the other disagree`,
    );
  }
  checkExtraField(local.extra, name, 'local header');
  if (record.flags & FLAG_DATA_DESCRIPTOR && record.method === METHOD_STORED) {
    zipFault(
      'zip-descriptor',
      name,
      `The stored entry ${showName(name)} puts its sizes after its data, where streaming readers cannot find its end`,
    );
  }
  // The local header's Zip64 block (4.5.3): both sizes, exactly when its size fields are marked.
  const localMarked =
    local.uncompressedSize === ZIP64_MARK_32 || local.compressedSize === ZIP64_MARK_32;
  const block = zip64Block(local.extra);
  if (
    localMarked !== (block !== undefined) ||
    (block !== undefined &&
      (block.length !== 16 ||
        local.uncompressedSize !== ZIP64_MARK_32 ||
        local.compressedSize !== ZIP64_MARK_32))
  ) {
    zipFault(
      'zip64',
      name,
      `The local Zip64 field of ${showName(name)} does not hold exactly both sizes its header marks`,
    );
  }
  return {
    header: local,
    zip64: block !== undefined,
    uncompressedSize: block ? read64(block, 0) : local.uncompressedSize,
    compressedSize: block ? read64(block, 8) : local.compressedSize,
    dataAt: at + local.length,
  };
}

/**
 * Where the entry ends: after its data, and after its data descriptor when it has one (4.4.4 bit
 * 3; Zip64-sized when the local header carries a Zip64 block, 4.3.9.2). The local CRC and sizes
 * are the central record's, or zero when a descriptor follows.
 */
function dataEnd(
  bytes: Uint8Array,
  record: CentralRecord,
  sizes: EntrySizes,
  local: CheckedLocal,
  centralDirectoryAt: number,
): number | Refusal {
  const mismatch = () => new Refusal('base.zip.local-header-mismatch', CORRUPT_LOCAL_SIZES);
  let end = local.dataAt + sizes.compressedSize;
  if (record.flags & FLAG_DATA_DESCRIPTOR) {
    const zeroOr = (value: number, truth: number) => value === 0 || value === truth;
    if (
      !zeroOr(local.header.crc32, record.crc32) ||
      !zeroOr(local.compressedSize, sizes.compressedSize) ||
      !zeroOr(local.uncompressedSize, sizes.uncompressedSize)
    )
      return mismatch();
    const descriptor =
      end <= centralDirectoryAt
        ? readDataDescriptor(bytes, end, local.zip64, record.crc32)
        : undefined;
    if (
      !descriptor ||
      descriptor.crc32 !== record.crc32 ||
      descriptor.compressedSize !== sizes.compressedSize ||
      descriptor.uncompressedSize !== sizes.uncompressedSize
    ) {
      return new Refusal(
        'base.zip.data-descriptor-mismatch',
        "The data descriptor after this entry's data does not match the central directory: the file is truncated or corrupt.",
      );
    }
    end += descriptor.length;
  } else if (
    local.header.crc32 !== record.crc32 ||
    local.compressedSize !== sizes.compressedSize ||
    local.uncompressedSize !== sizes.uncompressedSize
  ) {
    return mismatch();
  }
  if (end > centralDirectoryAt) {
    return new Refusal(
      'base.zip.entry-out-of-range',
      "The entry's data runs into the central directory: the file is truncated or corrupt.",
    );
  }
  if (record.method === METHOD_STORED && sizes.compressedSize !== sizes.uncompressedSize) {
    return new Refusal('base.zip.entry-corrupt', 'This stored entry gives two different sizes.');
  }
  return end;
}

/**
 * What the entry is: a file or a folder, by its name, its Unix mode and its MS-DOS attributes
 * alike; a folder carries no data and a deflated file at least a whole deflate stream.
 */
function checkKind(
  bytes: Uint8Array,
  record: CentralRecord,
  sizes: EntrySizes,
  dataAt: number,
  name: string,
): { directory: boolean; unix: number } {
  const directory = record.name.length > 0 && record.name[record.name.length - 1] === 0x2f;
  const unix = record.externalAttributes >>> 16;
  const kind = unix & S_IFMT;
  const dos = record.externalAttributes & 0xff;
  const what = directory ? 'a folder' : 'a file';
  if (
    (kind !== 0 && kind !== (directory ? S_IFDIR : S_IFREG)) ||
    (!directory && dos & DOS_DIRECTORY) ||
    dos & (DOS_VOLUME | DOS_DEVICE)
  ) {
    zipFault(
      'type',
      name,
      `The entry ${showName(name)} is named as ${what} but its attributes say otherwise ` +
        `(a link, a device or the other kind): installers may hold only regular files and folders`,
    );
  }
  if (unix !== 0) {
    const wanted = directory ? 0o700 : 0o400;
    if (unix & 0o7000 || (unix & wanted) !== wanted) {
      zipFault(
        'mode',
        name,
        `The entry ${showName(name)} has mode ${(unix & 0o7777).toString(8)}: the profile allows permission bits only (no setuid, setgid or sticky bit), readable by its owner, and folders its owner can enter`,
      );
    }
  }
  const { compressedSize, uncompressedSize } = sizes;
  const emptyDeflate =
    record.method === METHOD_DEFLATED &&
    compressedSize === EMPTY_DEFLATE.length &&
    bytes[dataAt] === EMPTY_DEFLATE[0] &&
    bytes[dataAt + 1] === EMPTY_DEFLATE[1];
  if (directory && (uncompressedSize !== 0 || !(compressedSize === 0 || emptyDeflate))) {
    zipFault(
      'size',
      name,
      `The folder ${showName(name)} carries data, which extractors skip or write differently`,
    );
  }
  if (!directory && record.method === METHOD_DEFLATED && compressedSize < EMPTY_DEFLATE.length) {
    // Python's zipfile reads no bytes as an empty file; unzip and 7-Zip call it damaged.
    zipFault(
      'size',
      name,
      `The file ${showName(name)} is deflated but holds no complete deflate stream, which extractors read differently`,
    );
  }
  return { directory, unix };
}

/**
 * The name as every reader decodes it: printable ASCII, or UTF-8 marked by flag bit 11 in an entry
 * made on Unix. Unmarked bytes unzip writes as they are and Python decodes as CP437; and unzip
 * converts the names of entries made on MS-DOS or NTFS from the OEM code page even when marked.
 */
function profileName(bytes: Uint8Array, flags: number, madeBy: number): string {
  const ascii = bytes.every((b) => b < 0x80);
  if (ascii) return latin1Decoder.decode(bytes);
  const shown = decodeName(bytes, flags);
  if (!(flags & FLAG_UTF8)) {
    zipFault(
      'name',
      shown,
      `The entry ${showName(shown)} has a non-ASCII name not marked as UTF-8: unzip writes its bytes as they are, Python decodes them as CP437`,
    );
  }
  const name = decodeUtf8(bytes);
  if (name === undefined) {
    zipFault('name', shown, `The entry ${showName(shown)} is marked UTF-8 but its name is not`);
  }
  if (madeBy >> 8 !== ZIP_HOST_UNIX) {
    zipFault(
      'name',
      name,
      `The entry ${showName(name)} has a non-ASCII name but was not made on Unix: unzip converts such names from the MS-DOS code page, Python and 7-Zip read UTF-8`,
    );
  }
  return name;
}

/**
 * The profile's layout: local entries, each followed by its data (and descriptor), fill the file
 * from byte 0 to the central directory in central-directory order, so no reader that walks local
 * headers (Java's ZipInputStream, bsdtar on a pipe) meets an entry the directory does not list.
 */
function checkTiling(
  bytes: Uint8Array,
  entries: ParsedEntry[],
  centralAt: number,
  problems: Problem[],
): void {
  /** What lies in a gap: an unlisted local entry (named) or other bytes. */
  const gap = (at: number, before: string): Problem => {
    const local = readLocalHeader(bytes, at);
    const name = local ? decodeName(local.name, local.flags) : undefined;
    return profileProblem(
      'zip-layout',
      name ?? before,
      name !== undefined
        ? `The local entry ${showName(name)} at byte ${at} is not in the central directory: ` +
            `readers that walk local headers (Java's ZipInputStream, bsdtar on a pipe) extract it, ` +
            `unzip and Python do not (${PROFILE_SECTION}).`
        : `Bytes the central directory does not list lie at byte ${at}, before ${before}: a reader ` +
            `that walks local headers would meet them (${PROFILE_SECTION}).`,
    );
  };
  let expected = 0;
  for (const entry of entries) {
    if (entry.localHeaderAt < expected) {
      problems.push(
        profileProblem(
          'zip-layout',
          nameOf(entry),
          `The entry ${showName(nameOf(entry))} overlaps the bytes of the entry before it, or is out of order (${PROFILE_SECTION}).`,
        ),
      );
      return;
    }
    if (entry.localHeaderAt > expected) {
      problems.push(gap(expected, showName(nameOf(entry))));
      return;
    }
    expected = entry.end;
  }
  if (expected !== centralAt) problems.push(gap(expected, 'the central directory'));
}

function nameOf(entry: ParsedEntry): string {
  return decodeName(entry.nameBytes, entry.flags);
}

function publicEntry(entry: ParsedEntry): ZipEntry {
  const {
    nameBytes: _n,
    centralAt: _c,
    centralLength: _l,
    zip64OffsetAt: _z,
    isDirectoryName,
    ...rest
  } = entry;
  return { name: nameOf(entry), ...rest, isDirectory: isDirectoryName };
}

/**
 * Whether a zip end record that a reader could act on lies in `bytes` at or after `from`: the
 * signature with a Zip64 locator before it, or a central-directory record where its size or its
 * offset points (a stub in front or not). unzip and 7-Zip find such a zip inside any file, so an
 * executable or a tgz holding one means two different things (docs/formats.md, "Strict archive
 * profile"). An empty directory lists nothing, so it does not count. `elsewhere`: `bytes` are
 * only the file's end, starting at file offset `origin`, and `directoryAt` says whether a
 * central-directory record starts at a file offset before them.
 */
export function holdsZipArchive(
  bytes: Uint8Array,
  from = 0,
  elsewhere?: { origin: number; directoryAt: (offset: number) => boolean },
): boolean {
  const origin = elsewhere?.origin ?? 0;
  for (let at = bytes.indexOf(0x50, from); at >= 0; at = bytes.indexOf(0x50, at + 1)) {
    if (at + END_FIXED_LENGTH > bytes.length) return false;
    if (read32(bytes, at) !== END_SIGNATURE) continue;
    const entries = read16(bytes, at + 10);
    const size = read32(bytes, at + 12);
    const offset = read32(bytes, at + 16);
    if (entries === 0 && size === 0) continue;
    if (readZip64Locator(bytes, at - ZIP64_LOCATOR_LENGTH) !== undefined) return true;
    // File offsets: where the directory ends at the end record, and where the record says it is.
    for (const candidate of [origin + at - size, offset]) {
      const inside = candidate - origin;
      if (inside >= 0 && inside + 4 <= bytes.length) {
        if (read32(bytes, inside) === CENTRAL_SIGNATURE) return true;
      } else if (candidate >= 0 && elsewhere?.directoryAt(candidate)) {
        return true;
      }
    }
  }
  return false;
}

/** A zip end record and the longest comment: where readers look for one at a file's end. */
const ZIP_END_SEARCH = END_FIXED_LENGTH + 0xffff;

/**
 * Central-directory signatures a tgz may hold before ZipTail stops noting where: compressed data
 * holds one by chance about once in 4 GiB, so a file with this many was made to; past it, any end
 * record at the file's end that points before the bytes kept is taken to find one.
 */
const MAX_DIRECTORY_MARKS = 4096;

/**
 * The last bytes of a tgz as it streams past, to check at its end that they hold no zip end
 * record: unzip would extract a zip from the file (docs/formats.md, "Strict archive profile").
 * The end record must start in the last ZIP_END_SEARCH bytes, and twice that is kept, however the
 * bytes were cut, as views of the last chunks (each a buffer of its own, never reused by its
 * reader): nothing is copied until the check. The directory such a record points at may be
 * anywhere in the file, so the file offset of every central-directory signature that streams
 * past is noted too.
 */
export class ZipTail {
  private chunks: Uint8Array[] = [];
  private length = 0;
  /** Bytes pushed so far: the file offset of the next. */
  private total = 0;
  private directories = new Set<number>();
  private tooMany = false;
  /** The last bytes pushed (up to 3), for a signature cut between two chunks. */
  private carry = new Uint8Array(0);

  push(chunk: Uint8Array): void {
    this.noteDirectories(chunk);
    this.total += chunk.length;
    const keep = 2 * ZIP_END_SEARCH;
    if (chunk.length >= keep) {
      this.chunks = [chunk.subarray(chunk.length - keep)];
      this.length = keep;
      return;
    }
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length - this.chunks[0]!.length >= keep) {
      this.length -= this.chunks.shift()!.length;
    }
  }

  check(): void {
    const kept = concatBytes(this.chunks);
    const tail = kept.subarray(Math.max(0, kept.length - 2 * ZIP_END_SEARCH));
    const elsewhere = {
      origin: this.total - tail.length,
      directoryAt: (offset: number) => this.tooMany || this.directories.has(offset),
    };
    if (holdsZipArchive(tail, Math.max(0, tail.length - ZIP_END_SEARCH), elsewhere)) {
      throw profileError(
        'tgz-zip',
        'end of file',
        `The gzip file also ends like a zip archive: unzip would extract a zip from it (${PROFILE_SECTION}).`,
      );
    }
  }

  /** Notes the file offset of each central-directory signature in `chunk` (or across its start). */
  private noteDirectories(chunk: Uint8Array): void {
    const seam = concatBytes([this.carry, chunk.subarray(0, 3)]);
    for (let i = 0; i < this.carry.length && i + 4 <= seam.length; i++) {
      if (read32(seam, i) === CENTRAL_SIGNATURE) this.note(this.total - this.carry.length + i);
    }
    for (let at = chunk.indexOf(0x50); at >= 0 && at + 4 <= chunk.length;) {
      if (read32(chunk, at) === CENTRAL_SIGNATURE) this.note(this.total + at);
      at = chunk.indexOf(0x50, at + 1);
    }
    this.carry = concatBytes([this.carry, chunk.subarray(Math.max(0, chunk.length - 3))]).slice(-3);
  }

  private note(offset: number): void {
    if (this.directories.size >= MAX_DIRECTORY_MARKS) this.tooMany = true;
    else this.directories.add(offset);
  }
}

/** Every entry of a zip, in central-directory order; throws CibError `base.zip.*` on a bad zip. */
export function listZipEntries(base: Uint8Array): ZipEntry[] {
  return readLayout(base).entries.map(publicEntry);
}

/** The content of one entry (the last one of that name), or undefined when there is none. */
export function readZipFile(base: Uint8Array, name: string): Uint8Array | undefined {
  const entry = readLayout(base).entries.findLast((e) => nameOf(e) === name);
  return entry ? readZipEntry(base, publicEntry(entry)) : undefined;
}

/**
 * Compressed bytes fflate inflates at once: bounds each output piece to ~16 MiB even for a bomb.
 */
const INFLATE_PIECE = 1 << 14;

type EntryData = Pick<
  ZipEntry,
  'name' | 'method' | 'flags' | 'crc32' | 'dataAt' | 'compressedSize' | 'uncompressedSize'
>;

/**
 * Streams one entry's content to `sink` in pieces, refusing it as soon as it inflates past the
 * size it declares, then checks its length and CRC-32. Nothing is allocated from the declared size.
 */
function inflateEntry(base: Uint8Array, entry: EntryData, sink: (chunk: Uint8Array) => void): void {
  const { name } = entry;
  if (entry.flags & FLAG_ENCRYPTED) {
    fail('base.zip.entry-encrypted', 'This entry is encrypted and cannot be read.', name);
  }
  const stored = base.subarray(entry.dataAt, entry.dataAt + entry.compressedSize);
  let length = 0;
  let crc = 0;
  const take = (chunk: Uint8Array) => {
    length += chunk.length;
    if (length > entry.uncompressedSize) {
      fail(
        'base.zip.entry-corrupt',
        `This entry inflates to more than the ${entry.uncompressedSize} bytes it declares.`,
        name,
      );
    }
    crc = crc32(chunk, crc);
    sink(chunk);
  };
  if (entry.method === METHOD_STORED) {
    take(stored);
  } else if (entry.method === METHOD_DEFLATED) {
    const inflater = new Inflate((chunk) => {
      if (chunk.length) take(chunk);
    });
    try {
      for (let at = 0; at < stored.length || at === 0; at += INFLATE_PIECE) {
        const last = at + INFLATE_PIECE >= stored.length;
        inflater.push(stored.subarray(at, at + INFLATE_PIECE), last);
        if (last) break;
      }
    } catch (error) {
      if (error instanceof CibError) throw error;
      fail('base.zip.entry-corrupt', "This entry's compressed data is damaged.", name);
    }
  } else {
    fail(
      'base.zip.method-unsupported',
      `This entry uses compression method ${entry.method}.`,
      name,
    );
  }
  if (length !== entry.uncompressedSize || crc >>> 0 !== entry.crc32 >>> 0) {
    fail('base.zip.entry-corrupt', "This entry's content does not match its CRC-32.", name);
  }
}

/**
 * One entry's content, refused before anything is allocated when it declares more than
 * `maxBytes` (a zip bomb declares its true size, or lies and is caught while inflating).
 */
export function readZipEntry(
  base: Uint8Array,
  entry: EntryData,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Uint8Array {
  if (entry.uncompressedSize > maxBytes) {
    fail(
      'base.limit.entry',
      `This entry declares ${entry.uncompressedSize} bytes, more than the ${maxBytes} this reader accepts.`,
      entry.name,
    );
  }
  const content = new Uint8Array(entry.uncompressedSize);
  let at = 0;
  inflateEntry(base, entry, (chunk) => {
    content.set(chunk, at);
    at += chunk.length;
  });
  return content;
}

/** 4.4.6: the newest modification time among the entries, compared as (date, time). */
function newestDosTimestamp(entries: ParsedEntry[]): { dosDate: number; dosTime: number } {
  let newest = { dosDate: DOS_DATE_1980_01_01, dosTime: 0 };
  for (const e of entries) {
    if (e.dosDate * 0x10000 + e.dosTime > newest.dosDate * 0x10000 + newest.dosTime) {
      newest = { dosDate: e.dosDate, dosTime: e.dosTime };
    }
  }
  return newest;
}

export interface CustomizeZipOptions {
  /** The entry to add or replace; docs/formats.md#base-installers fixes it, tests may not. */
  entryName?: string;
  /**
   * Also decompress every entry and check its CRC-32 (readZipFile on each). Off by default: the
   * structural checks catch truncation and damaged records at a fraction of the cost, and a
   * base's content is vouched for by its manifest SHA-256; on it guarantees `unzip -t` passes.
   */
  verifyData?: boolean;
}

/**
 * Returns the base with the vesselinfo entry added (or replacing the one it has). The new entry is
 * *stored*, not deflated: a vesselinfo is a few kilobytes, and stored bytes do not depend on any
 * compressor's version, so the output is byte-identical everywhere and forever. Its time is the
 * newest time in the base (never the clock), its mode 0644, made by Unix.
 *
 * An old vesselinfo entry is cut out of the file, so even a reader that walks local headers sees
 * exactly one. Entries after it keep their local headers and data byte for byte; their central
 * records change in the local-header-offset field only. When the old entry is the last one (as
 * in every installer this tool wrote), nothing but that entry changes.
 */
export function customizeZip(
  base: Uint8Array,
  vesselinfoText: string,
  options: CustomizeZipOptions = {},
): Uint8Array {
  return concatBytes(customizeZipParts(base, vesselinfoText, options));
}

/**
 * customizeZip without the final copy: the output as consecutive pieces, most of them views into
 * `base`. Hand them to `new Blob(parts)` or a stream writer to skip one pass over the bytes.
 */
export function customizeZipParts(
  base: Uint8Array,
  vesselinfoText: string,
  options: CustomizeZipOptions = {},
): Uint8Array[] {
  const layout = readLayout(base);
  const { centralAt } = layout; // the profile: file positions are the recorded offsets
  const nameBytes = utf8Encoder.encode(options.entryName ?? VESSELINFO_ENTRY);
  const data = utf8Encoder.encode(vesselinfoText);
  if (options.verifyData) {
    for (const entry of layout.entries) inflateEntry(base, publicEntry(entry), () => {});
  }
  const plan = planCuts(layout, nameBytes);
  const localAt = centralAt - plan.cutBefore(centralAt);
  const { local, central } = newEntryRecords(nameBytes, data, plan.kept, localAt);
  const keptCentralSize = plan.kept.reduce((sum, e) => sum + e.centralLength, 0);
  const ends = endRecords(layout, {
    centralOffset: localAt + local.length + data.length,
    centralSize: keptCentralSize + central.length,
    count: plan.kept.length + 1,
  });
  // The base outside the cuts up to its central directory, the new entry, the kept central
  // records (moved where a cut came before their entry), the new one, and the end records.
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const [start, stop] of plan.cuts) {
    parts.push(base.subarray(from, start));
    from = stop;
  }
  parts.push(base.subarray(from, centralAt), local, data);
  parts.push(
    plan.cuts.length === 0
      ? base.subarray(centralAt, centralAt + keptCentralSize)
      : movedCentralRecords(base, plan, keptCentralSize),
  );
  parts.push(central, ...ends);
  return parts;
}

/** What customizing cuts out of a base, and what it keeps. */
interface CutPlan {
  kept: ParsedEntry[];
  /** The byte ranges (local header to end of data) of the entries that go, in file order. */
  cuts: (readonly [start: number, end: number])[];
  /** How many bytes the cuts remove before `position`. */
  cutBefore: (position: number) => number;
}

/** Every entry that unzip would write onto the new one's path goes, whatever its spelling. */
function planCuts(layout: ZipLayout, nameBytes: Uint8Array): CutPlan {
  const target = extractedPath(utf8Decoder.decode(nameBytes), 'zip');
  const replaced = layout.entries.filter((e) => extractedPath(nameOf(e), 'zip') === target);
  const kept = replaced.length
    ? layout.entries.filter((e) => !replaced.includes(e))
    : layout.entries;
  const cuts = replaced.map((e) => [e.localHeaderAt, e.end] as const).sort((a, b) => a[0] - b[0]);
  const cutBefore = (position: number): number =>
    cuts.reduce((sum, [start, end]) => (end <= position ? sum + end - start : sum), 0);
  return { kept, cuts, cutBefore };
}

/**
 * The new entry's 4.3.7 local header (then its stored data: no descriptor, no extra fields) and
 * its central record, dated with the newest time among the kept entries.
 */
function newEntryRecords(
  nameBytes: Uint8Array,
  data: Uint8Array,
  kept: ParsedEntry[],
  localAt: number,
): { local: Uint8Array; central: Uint8Array } {
  const { dosDate, dosTime } = newestDosTimestamp(kept);
  const ascii = nameBytes.every((b) => b < 0x80);
  // The fields the local header and the central record share.
  const shared = {
    flags: ascii ? 0 : FLAG_UTF8,
    method: METHOD_STORED,
    dosTime,
    dosDate,
    crc32: crc32(data),
    compressedSize: data.length,
    uncompressedSize: data.length,
    name: nameBytes,
  };
  const local = writeLocalHeader({ ...shared, versionNeeded: VERSION_STORED, extra: EMPTY });
  const offsetNeedsZip64 = localAt >= ZIP64_MARK_32;
  const central = writeCentralRecord({
    ...shared,
    madeBy: MADE_BY_UNIX,
    versionNeeded: offsetNeedsZip64 ? VERSION_ZIP64 : VERSION_STORED,
    diskStart: 0,
    internalAttributes: 0,
    externalAttributes: (REGULAR_FILE_0644 << 16) >>> 0,
    localOffset: offsetNeedsZip64 ? ZIP64_MARK_32 : localAt,
    extra: offsetNeedsZip64 ? writeZip64OffsetExtra(localAt) : EMPTY,
    comment: EMPTY,
  });
  return { local, central };
}

/**
 * 4.3.14-4.3.16: the Zip64 end record and locator (empty when not needed) and the end record, in
 * Zip64 form when the base had it or the numbers need it; the base's comment kept.
 */
function endRecords(
  layout: ZipLayout,
  {
    centralOffset,
    centralSize,
    count,
  }: { centralOffset: number; centralSize: number; count: number },
): [zip64End: Uint8Array, locator: Uint8Array, end: Uint8Array] {
  const useZip64 =
    layout.zip64 !== undefined ||
    count >= ZIP64_MARK_16 ||
    centralSize >= ZIP64_MARK_32 ||
    centralOffset >= ZIP64_MARK_32;
  const zip64End = useZip64
    ? writeZip64EndRecord({
        madeBy: layout.zip64?.madeBy ?? MADE_BY_UNIX_ZIP64,
        versionNeeded: layout.zip64?.versionNeeded ?? VERSION_ZIP64,
        disk: 0,
        centralDisk: 0,
        diskEntries: count,
        totalEntries: count,
        centralSize,
        centralOffset,
        extensible: layout.zip64?.extensible ?? EMPTY,
      })
    : EMPTY;
  const locator = useZip64
    ? writeZip64Locator({ endDisk: 0, endOffset: centralOffset + centralSize, totalDisks: 1 })
    : EMPTY;
  const end = writeEndRecord({
    disk: 0,
    centralDisk: 0,
    diskEntries: Math.min(count, ZIP64_MARK_16),
    totalEntries: Math.min(count, ZIP64_MARK_16),
    centralSize: Math.min(centralSize, ZIP64_MARK_32),
    centralOffset: Math.min(centralOffset, ZIP64_MARK_32),
    comment: layout.end.comment,
  });
  return [zip64End, locator, end];
}

/** The kept central records, each local header offset moved back by the bytes cut before it. */
function movedCentralRecords(base: Uint8Array, plan: CutPlan, size: number): Uint8Array {
  const directory = new Uint8Array(size);
  let cursor = 0;
  for (const entry of plan.kept) {
    directory.set(base.subarray(entry.centralAt, entry.centralAt + entry.centralLength), cursor);
    const shift = plan.cutBefore(entry.localHeaderAt);
    if (shift) {
      const offset = entry.localHeaderAt - shift;
      if (entry.zip64OffsetAt !== undefined) {
        write64(directory, cursor + entry.zip64OffsetAt - entry.centralAt, offset);
      } else {
        write32(directory, cursor + CENTRAL_LOCAL_OFFSET, offset);
      }
    }
    cursor += entry.centralLength;
  }
  return directory;
}
