/**
 * tar as this project writes and reads it (POSIX.1-2017, pax utility, "ustar Interchange Format"):
 * one header record with exact, fixed metadata, and the one push-based reader, which accepts only
 * the strict archive profile (docs/formats.md, "Strict archive profile"), applies pax and GNU
 * long-name headers and finds where the entries end and the end-of-archive zero blocks begin
 * (customising, walking and inspecting all go through it).
 */
import { concatBytes } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { extractedPath } from './paths.ts';
import { decodeUtf8, PROFILE_SECTION, ProfileNames, profileError, showName } from './profile.ts';

/** ustar §: an archive is a series of 512-byte blocks. */
export const TAR_BLOCK = 512;
/** ustar §: the end of the archive is two consecutive zero blocks. */
export const TAR_END_OF_ARCHIVE = 2 * TAR_BLOCK;
/** The default blocking factor 20 (GNU tar, Python tarfile): archives are padded to 10240 bytes. */
export const TAR_RECORD = 20 * TAR_BLOCK;

// ustar header layout: [offset, length] of each field.
const NAME = [0, 100] as const;
const MODE = [100, 8] as const;
const UID = [108, 8] as const;
const GID = [116, 8] as const;
const SIZE = [124, 12] as const;
const MTIME = [136, 12] as const;
const CHKSUM = [148, 8] as const;
const TYPEFLAG = 156;
const LINKNAME = [157, 100] as const;
const MAGIC = [257, 6] as const;
const VERSION = [263, 2] as const;
const UNAME = [265, 32] as const;
const GNAME = [297, 32] as const;
const PREFIX = [345, 155] as const;
const USTAR_MAGIC = 'ustar\0';
const USTAR_VERSION = '00';
const CHKSUM_SPACE = 0x20; // the checksum is computed with its own field taken as eight spaces

export const TYPE_FILE = '0';
export const TYPE_DIRECTORY = '5';
const TYPE_PAX = 'x';
const TYPE_GNU_LONG_NAME = 'L';

const encoder = new TextEncoder();

function badTar(code: string, where: string, message: string): CibError {
  return new CibError(problem(`base.tar.${code}`, where, message));
}

export function paddedSize(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface UstarFields {
  name: string;
  mode: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  type: 'file' | 'directory';
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
}

function writeText(block: Uint8Array, [offset, length]: readonly [number, number], text: string) {
  const bytes = encoder.encode(text);
  if (bytes.length > length) throw new Error(`tar field too long: ${text}`);
  block.set(bytes, offset);
}

/** Octal digits, zero-padded, NUL-terminated, filling the field. */
function writeOctal(block: Uint8Array, [offset, length]: readonly [number, number], value: number) {
  const digits = Math.floor(value)
    .toString(8)
    .padStart(length - 1, '0');
  if (digits.length > length - 1 || value < 0) throw new Error(`tar number out of range: ${value}`);
  writeText(block, [offset, length - 1], digits);
}

function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    sum += i >= CHKSUM[0] && i < CHKSUM[0] + CHKSUM[1] ? CHKSUM_SPACE : block[i]!;
  }
  return sum;
}

/** Splits a long path at a `/` into ustar prefix (≤155 bytes) and name (≤100 bytes). */
function splitName(path: string): { prefix: string; name: string } {
  if (encoder.encode(path).length <= NAME[1]) return { prefix: '', name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== '/') continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (
      encoder.encode(prefix).length <= PREFIX[1] &&
      encoder.encode(name).length <= NAME[1] &&
      name
    ) {
      return { prefix, name };
    }
  }
  throw new Error(`path too long for a ustar header: ${path}`);
}

/** One 512-byte ustar header record. */
export function writeUstarHeader(fields: UstarFields): Uint8Array {
  const block = new Uint8Array(TAR_BLOCK);
  const path =
    fields.type === 'directory' && !fields.name.endsWith('/') ? `${fields.name}/` : fields.name;
  const { prefix, name } = splitName(path);
  writeText(block, NAME, name);
  writeOctal(block, MODE, fields.mode & 0o7777);
  writeOctal(block, UID, fields.uid ?? 0);
  writeOctal(block, GID, fields.gid ?? 0);
  writeOctal(block, SIZE, fields.type === 'directory' ? 0 : fields.size);
  writeOctal(block, MTIME, fields.mtime);
  block[TYPEFLAG] = (fields.type === 'directory' ? TYPE_DIRECTORY : TYPE_FILE).charCodeAt(0);
  writeText(block, MAGIC, USTAR_MAGIC);
  writeText(block, VERSION, USTAR_VERSION);
  writeText(block, UNAME, fields.uname ?? '');
  writeText(block, GNAME, fields.gname ?? '');
  writeText(block, PREFIX, prefix);
  // chksum: six octal digits, NUL, space (the form GNU tar and Python write).
  writeText(block, [CHKSUM[0], 7], checksum(block).toString(8).padStart(6, '0') + '\0');
  block[CHKSUM[0] + 7] = CHKSUM_SPACE;
  return block;
}

/** Header, data and zero padding to the next block: one complete entry. */
export function writeTarEntry(
  fields: UstarFields,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const size = fields.type === 'directory' ? 0 : data.length;
  const entry = new Uint8Array(TAR_BLOCK + paddedSize(size));
  entry.set(writeUstarHeader({ ...fields, size }));
  if (size) entry.set(data, TAR_BLOCK);
  return entry;
}

/** Zero bytes that end an archive of `entriesLength` bytes: two zero blocks, then to a full record. */
export function endOfArchiveLength(entriesLength: number): number {
  return Math.ceil((entriesLength + TAR_END_OF_ARCHIVE) / TAR_RECORD) * TAR_RECORD - entriesLength;
}

// ---------------------------------------------------------------------------------------------
// Reading, inside the strict profile (docs/formats.md, "Strict archive profile")

/** Who owns an entry; only inspection lists it, so the scanner reads it only when asked. */
export interface TarOwner {
  uid: number;
  gid: number;
  uname: string;
  gname: string;
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i]) return false;
  return true;
}

export function checksumMatches(block: Uint8Array): boolean {
  const field = block.subarray(CHKSUM[0], CHKSUM[0] + CHKSUM[1]);
  const end = field.indexOf(0);
  const stored = String.fromCharCode(...(end < 0 ? field : field.subarray(0, end))).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  const wanted = parseInt(stored, 8);
  if (wanted === checksum(block)) return true;
  // Some old writers summed signed bytes; GNU tar, bsdtar and Python accept both sums.
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= CHKSUM[0] && i < CHKSUM[0] + CHKSUM[1] ? CHKSUM_SPACE : block[i]!;
    signed += b > 127 ? b - 256 : b;
  }
  return wanted === signed;
}

export function normalizeEntryName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

const MAX_META_BYTES = 1 << 20;

/** Header field bytes up to the first NUL; every byte after it must be NUL too. */
function fieldBytes(
  block: Uint8Array,
  [offset, length]: readonly [number, number],
): Uint8Array | undefined {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  if (end < 0) return field;
  for (let i = end + 1; i < length; i++) if (field[i]) return undefined;
  return field.subarray(0, end);
}

function ascii(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

/**
 * A number field: octal digits after optional spaces, then only spaces or NULs (what GNU tar,
 * bsdtar and Python write), or the base-256 form for large values. Undefined for anything else.
 */
function strictNumber(
  block: Uint8Array,
  [offset, length]: readonly [number, number],
): number | undefined {
  const first = block[offset]!;
  if (first & 0x80) {
    if (first !== 0x80) return undefined; // negative base-256
    let value = 0;
    for (let i = 1; i < length; i++) value = value * 256 + block[offset + i]!;
    return value <= Number.MAX_SAFE_INTEGER ? value : undefined;
  }
  let i = offset;
  const end = offset + length;
  while (i < end && block[i] === 0x20) i++;
  let value = 0;
  const digitsAt = i;
  while (i < end && block[i]! >= 0x30 && block[i]! <= 0x37) value = value * 8 + block[i++]! - 0x30;
  if (i === digitsAt) return undefined;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  return i === end ? value : undefined;
}

/** Read after the header passed the profile's number rules (readHeader). */
function ownerNumber(block: Uint8Array, field: readonly [number, number]): number {
  return strictNumber(block, field) ?? 0;
}

/** devmajor and devminor: Python parses them for every entry, GNU tar only for devices. */
const DEVMAJOR = [329, 8] as const;
const DEVMINOR = [337, 8] as const;

/** Empty (NULs and spaces only), as GNU tar leaves device numbers of files, or a number. */
function emptyOrNumber(block: Uint8Array, [offset, length]: readonly [number, number]): boolean {
  for (let i = offset; i < offset + length; i++) {
    if (block[i] !== 0 && block[i] !== 0x20)
      return strictNumber(block, [offset, length]) !== undefined;
  }
  return true;
}

/** uid_t and gid_t: GNU tar refuses larger owner numbers. */
const MAX_OWNER = 2 ** 32 - 1;
/** Times from 1970 to 2242 (what 11 octal digits hold): GNU tar refuses some outside them. */
const MAX_TIME = 8 ** 11 - 1;

/** What each refused typeflag is, in words. */
const TYPE_WORDS: Record<string, string> = {
  '\0': 'an old-style (pre-POSIX) file entry',
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  '7': 'a contiguous file',
  g: 'a pax global header, which changes the entries that follow',
  K: 'a GNU long link name',
  S: 'a GNU sparse file',
  V: 'a volume label',
  M: 'a multi-volume continuation',
  D: 'a GNU dump directory',
  N: 'a GNU old long name',
  X: 'a Solaris extended header',
};

function typeWords(type: string): string {
  return TYPE_WORDS[type] ?? `an entry of unknown type ${JSON.stringify(type)}`;
}

/** pax keys the profile accepts: names, sizes, times and owners, nothing that renames or links. */
const PAX_KEYS = new Set([
  'path',
  'size',
  'mtime',
  'atime',
  'ctime',
  'uid',
  'gid',
  'uname',
  'gname',
]);
const PAX_DECIMAL = /^[0-9]+$/;
const PAX_TIME = /^[0-9]+(\.[0-9]+)?$/;
// eslint-disable-next-line no-control-regex
const PAX_OWNER = /^[^\u0000-\u001f\u007f]*$/u;

/** The records of one pax extended header, as the profile reads them. */
interface PaxRecords {
  path?: string;
  size?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
}

/** Where a pax header is, and the entry it names when one of its records says. */
interface PaxPlace {
  where: string;
  name?: string;
}

function paxFault(place: PaxPlace, message: string): CibError {
  const named = place.name !== undefined ? ` (for the entry ${showName(place.name)})` : '';
  return profileError(
    'pax',
    place.name ?? place.where,
    `The pax header at ${place.where}${named} ${message} (${PROFILE_SECTION}).`,
  );
}

/** The records' structure: `<length> <key>=<value>\n`, the decimal length counting bytes. */
function paxStructure(body: Uint8Array, place: PaxPlace): [Uint8Array, Uint8Array][] {
  const records: [Uint8Array, Uint8Array][] = [];
  let at = 0;
  while (at < body.length) {
    let i = at;
    while (i < body.length && body[i]! >= 0x30 && body[i]! <= 0x39) i++;
    if (i === at || body[i] !== 0x20 || (body[at] === 0x30 && i > at + 1)) {
      throw paxFault(place, 'holds a malformed record (not "<length> <key>=<value>")');
    }
    const end = at + Number(ascii(body.subarray(at, i)));
    if (end > body.length || end <= i + 1 || body[end - 1] !== 0x0a) {
      throw paxFault(
        place,
        'holds a record whose length does not end at its newline (lengths count bytes)',
      );
    }
    const record = body.subarray(i + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) throw paxFault(place, 'holds a record with no "<key>="');
    records.push([record.subarray(0, equals), record.subarray(equals + 1)]);
    at = end;
  }
  return records;
}

/**
 * A pax extended header body (POSIX pax, "pax Extended Header"): records filling the body
 * exactly, UTF-8, only the keys above, each once.
 */
function paxRecords(body: Uint8Array, where: string): PaxRecords {
  const place: PaxPlace = { where };
  const records = paxStructure(body, place);
  const lossy = new TextDecoder();
  for (const [key, value] of records) {
    const k = lossy.decode(key);
    if (k === 'path' || k === 'GNU.sparse.name') place.name ??= lossy.decode(value);
  }
  const found: PaxRecords = {};
  const keys = new Set<string>();
  for (const [keyBytes, valueBytes] of records) {
    const key = decodeUtf8(keyBytes);
    const value = decodeUtf8(valueBytes);
    if (key === undefined || value === undefined) {
      throw paxFault(place, 'holds a record that is not UTF-8');
    }
    if (!PAX_KEYS.has(key)) {
      if (key.startsWith('GNU.sparse.')) {
        const name = place.name ?? where;
        throw profileError(
          'sparse',
          name,
          `The pax header at ${where} makes ${showName(name)} a sparse file (${JSON.stringify(key)}), ` +
            `which extractors rebuild, and may rename, differently (${PROFILE_SECTION}).`,
        );
      }
      throw paxFault(
        place,
        `holds the key ${JSON.stringify(key)}, which the profile does not allow`,
      );
    }
    if (keys.has(key)) throw paxFault(place, `gives ${JSON.stringify(key)} twice`);
    keys.add(key);
    switch (key) {
      case 'path':
        found.path = value;
        break;
      case 'size':
      case 'uid':
      case 'gid':
        if (
          !PAX_DECIMAL.test(value) ||
          !Number.isSafeInteger(Number(value)) ||
          (key !== 'size' && Number(value) > MAX_OWNER)
        )
          throw paxFault(
            place,
            `gives ${key} as ${JSON.stringify(value)}, not a whole number in range`,
          );
        found[key] = Number(value);
        break;
      case 'mtime':
      case 'atime':
      case 'ctime':
        if (!PAX_TIME.test(value) || Number(value) < 0 || Number(value) > MAX_TIME)
          throw paxFault(
            place,
            `gives ${key} as ${JSON.stringify(value)}, not a decimal time from 1970 to 2242`,
          );
        if (key === 'mtime') found.mtime = Math.floor(Number(value));
        break;
      default:
        if (!PAX_OWNER.test(value)) throw paxFault(place, `gives ${key} with control characters`);
        found[key as 'uname' | 'gname'] = value;
    }
  }
  return found;
}

/** One entry as the scanner meets it, its pax or GNU long name applied. */
export interface TarEntryInfo {
  /** The name exactly as stored (pax or GNU long name applied). */
  name: string;
  /** `profilePath`: where it extracts, case kept; `''` for the root folder entry `./`. */
  path: string;
  /** Always empty: the profile has no links. */
  linkname: string;
  /** `0` (file) or `5` (directory): the profile has no other entries. */
  typeflag: string;
  mode: number;
  /** Bytes of data that follow the header (0 for directories). */
  size: number;
  /** Tar offset of the entry's first header (its pax or long-name header, if any). */
  offset: number;
  /** Seconds since the epoch, any pax `mtime=` applied. */
  mtime: number;
  /** Only for a hook that sets `owners`; any pax owner records applied. */
  owner?: TarOwner;
}

/**
 * Optional hook into a scan: `entry` sees every entry and says whether it wants the data, which
 * then arrives through `data` in pieces.
 */
export interface TarEntryHook {
  /** Whether `entry` wants each entry's `owner` (read only then, as it costs a little). */
  owners?: boolean;
  entry(info: TarEntryInfo): boolean;
  data(chunk: Uint8Array): void;
}

export interface TarScanResult {
  /** Tar offset where the entries end (the first end-of-archive zero block, or the end of data). */
  entriesEnd: number;
  /** Entries seen (files and directories), meta headers not counted. */
  entryCount: number;
  /** Newest mtime among the entries that were not dropped; 0 when there are none. */
  newestMtime: number;
  /** Tar byte ranges [start, end) of entries named `dropName`, their meta headers included. */
  dropped: [number, number][];
  /** Whether the two end-of-archive blocks were present. */
  sawEnd: boolean;
}

export interface TarScanOptions {
  /**
   * The bytes are the first part of an archive, or one entry of it (an append-ready base's
   * members): the end-of-archive blocks are not required.
   */
  fragment?: boolean;
}

interface Header {
  block: Uint8Array;
  type: string;
  size: number;
  mode: number;
  mtime: number;
  gnu: boolean;
}

/**
 * Walks tar bytes pushed in chunks, refusing anything outside the strict profile as it is met.
 * Every byte of every entry goes to `keep`, except entries whose name is `dropName` (and the pax
 * or GNU long-name header in front of them); the end-of-archive blocks and the zero bytes after
 * them are not passed on.
 */
export class TarScanner {
  private offset = 0;
  private header = new Uint8Array(TAR_BLOCK);
  private headerFill = 0;
  private bodyLeft = 0;
  private bodyMode: 'keep' | 'drop' | 'meta' = 'keep';
  private meta: Uint8Array[] = [];
  private metaBytes = 0;
  private metaStart = -1;
  private metaBody: Uint8Array[] = [];
  private metaType = '';
  private metaSize = 0;
  private metaName = '';
  /** The name a long-name header gave the next entry. */
  private pendingName: string | undefined;
  /** The pax records for the next entry. */
  private pendingPax: PaxRecords | undefined;
  /** Unpadded data bytes still to hand to the hook for the current entry. */
  private hookLeft = 0;
  private ended = false;
  /** Zero bytes seen from the first end-of-archive block on. */
  private zerosAfterEnd = 0;
  private lastHeaderAt = 0;
  private readonly names = new ProfileNames('tar');
  readonly result: TarScanResult = {
    entriesEnd: 0,
    entryCount: 0,
    newestMtime: 0,
    dropped: [],
    sawEnd: false,
  };

  constructor(
    private readonly keep: (bytes: Uint8Array) => void,
    private readonly dropName?: string,
    private readonly hook?: TarEntryHook,
    private readonly options: TarScanOptions = {},
  ) {}

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && !this.ended) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - at);
        const part = chunk.subarray(at, at + n);
        if (this.bodyMode === 'keep') this.keep(part);
        else if (this.bodyMode === 'meta') this.addMeta(part, true);
        if (this.hookLeft > 0) {
          const wanted = part.subarray(0, Math.min(this.hookLeft, part.length));
          this.hookLeft -= wanted.length;
          this.hook!.data(wanted);
        }
        this.bodyLeft -= n;
        this.offset += n;
        at += n;
        if (this.bodyLeft === 0) this.endBody();
        continue;
      }
      const n = Math.min(TAR_BLOCK - this.headerFill, chunk.length - at);
      this.header.set(chunk.subarray(at, at + n), this.headerFill);
      this.headerFill += n;
      at += n;
      if (this.headerFill === TAR_BLOCK) {
        this.headerFill = 0;
        this.onHeader(this.header.slice());
      }
    }
    if (this.ended && at < chunk.length) this.afterEnd(chunk.subarray(at));
  }

  /** Call when the input ends; throws when it ends inside an entry or without its end blocks. */
  finish(): TarScanResult {
    if (!this.ended) {
      if (this.headerFill || this.bodyLeft || this.metaStart >= 0) {
        throw badTar(
          'truncated',
          `tar byte ${this.offset}`,
          'The tar archive ends in the middle of an entry (truncated base).',
        );
      }
      this.result.entriesEnd = this.offset;
    }
    if (this.result.entryCount === 0 && this.result.entriesEnd === 0 && !this.result.sawEnd) {
      throw badTar('empty', 'tar byte 0', 'The archive is empty: it holds no tar entries.');
    }
    if (!this.options.fragment && this.zerosAfterEnd < TAR_END_OF_ARCHIVE) {
      throw profileError(
        'end',
        `tar byte ${this.result.entriesEnd}`,
        'The tar archive does not end with two zero blocks: it may be truncated, and extractors ' +
          `differ on what such an archive holds (${PROFILE_SECTION}).`,
      );
    }
    return this.result;
  }

  /** After the first end block only zero bytes may follow: `tar -i` would read anything else. */
  private afterEnd(bytes: Uint8Array): void {
    const from = this.offset;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) continue;
      const at = from + i;
      throw profileError(
        'end',
        `tar byte ${at}`,
        this.zerosAfterEnd + i < TAR_END_OF_ARCHIVE
          ? 'A lone zero block sits among the entries: some extractors stop there, others ' +
              `read on (${PROFILE_SECTION}).`
          : 'Data follows the end-of-archive blocks: `tar -i` and some readers would extract it, ' +
              `others ignore it (${PROFILE_SECTION}).`,
      );
    }
    this.zerosAfterEnd += bytes.length;
    this.offset += bytes.length;
  }

  private onHeader(block: Uint8Array): void {
    const where = `tar byte ${this.offset}`;
    if (isZeroBlock(block)) {
      if (this.metaStart >= 0)
        throw badTar('header', where, 'A tar extended header is not followed by an entry.');
      this.ended = true;
      this.result.sawEnd = true;
      this.result.entriesEnd = this.offset;
      this.zerosAfterEnd = TAR_BLOCK;
      this.offset += TAR_BLOCK;
      return;
    }
    if (!checksumMatches(block)) {
      throw this.offset === 0
        ? badTar(
            'not-tar',
            where,
            'The decompressed data is not a tar archive (no valid tar header at the start).',
          )
        : badTar('checksum', where, 'A tar header is corrupt (its checksum does not match).');
    }
    const header = this.readHeader(block, where);
    this.lastHeaderAt = this.offset;
    this.offset += TAR_BLOCK;
    const type = header.type;
    if (type === TYPE_PAX || type === TYPE_GNU_LONG_NAME) {
      if (this.metaStart >= 0) {
        const named = this.pendingPax?.path ?? this.pendingName;
        throw profileError(
          'meta',
          named ?? where,
          `Two extended headers (pax or GNU long name) precede one entry at ${where}` +
            `${named !== undefined ? `, one naming it ${showName(named)}` : ''}: extractors ` +
            `disagree on which names it (${PROFILE_SECTION}).`,
        );
      }
      if (header.size > MAX_META_BYTES) {
        throw badTar('header', where, 'A tar extended header is implausibly large.');
      }
      this.metaStart = this.lastHeaderAt;
      this.addMeta(block, false);
      this.metaType = type;
      this.metaSize = header.size;
      this.metaName = where;
      this.metaBody = [];
      this.startBody(header.size, 'meta');
      return;
    }
    this.onEntry(block, header, where);
  }

  /** A file, a folder, or a pax or long-name header; anything else is named and refused. */
  private checkType(block: Uint8Array, type: string, gnu: boolean, where: string): void {
    if (
      type !== TYPE_FILE &&
      type !== TYPE_DIRECTORY &&
      type !== TYPE_PAX &&
      type !== TYPE_GNU_LONG_NAME
    ) {
      const name = this.pendingPax?.path ?? this.pendingName ?? headerName(block, gnu) ?? where;
      if (type === 'g') {
        throw profileError(
          'global-header',
          name,
          `The tar holds a pax global header (${showName(name)}, at ${where}), whose records ` +
            `change every entry after it: GNU tar and Python apply them, others do not (${PROFILE_SECTION}).`,
        );
      }
      throw profileError(
        type === 'S' ? 'sparse' : 'type',
        name,
        `The entry ${showName(name)} is ${typeWords(type)}; installers may hold only regular ` +
          `files and folders (${PROFILE_SECTION}).`,
      );
    }
  }

  /** The profile's header rules; the typeflag must be a file, a folder, or a pax or long-name header. */
  private readHeader(block: Uint8Array, where: string): Header {
    const magic = ascii(block.subarray(MAGIC[0], MAGIC[0] + 8));
    const gnu = magic === 'ustar  \0';
    if (!gnu && magic !== `${USTAR_MAGIC}${USTAR_VERSION}`) {
      throw profileError(
        'tar-header',
        where,
        `The tar header at ${where} is not a POSIX or GNU ustar header (an old V7 header?) (${PROFILE_SECTION}).`,
      );
    }
    const type = String.fromCharCode(block[TYPEFLAG]!);
    this.checkType(block, type, gnu, where);
    // Text fields are NUL-padded; GNU headers keep nothing in the ustar prefix's place (GNU tar
    // reads times and sparse maps there, Python a prefix).
    const padded =
      fieldBytes(block, NAME) !== undefined &&
      fieldBytes(block, UNAME) !== undefined &&
      fieldBytes(block, GNAME) !== undefined &&
      (gnu
        ? isZeroBlock(block.subarray(PREFIX[0], TAR_BLOCK))
        : fieldBytes(block, PREFIX) !== undefined && isZeroBlock(block.subarray(500, TAR_BLOCK)));
    if (!padded) {
      throw profileError(
        'tar-header',
        where,
        `The tar header at ${where} has bytes after the end of a text field, or in fields ` +
          `GNU tar and Python read differently (${PROFILE_SECTION}).`,
      );
    }
    if (!isZeroBlock(block.subarray(LINKNAME[0], LINKNAME[0] + LINKNAME[1]))) {
      throw profileError(
        'tar-header',
        where,
        `The tar header at ${where} names a link target, but it is not a link (${PROFILE_SECTION}).`,
      );
    }
    const size = strictNumber(block, SIZE);
    const mode = strictNumber(block, MODE);
    if (size === undefined || mode === undefined) {
      throw badTar('header', where, 'A tar header holds a malformed size or mode.');
    }
    const uid = strictNumber(block, UID);
    const gid = strictNumber(block, GID);
    const mtime = strictNumber(block, MTIME);
    if (
      uid === undefined ||
      gid === undefined ||
      mtime === undefined ||
      uid > MAX_OWNER ||
      gid > MAX_OWNER ||
      mtime > MAX_TIME ||
      !emptyOrNumber(block, DEVMAJOR) ||
      !emptyOrNumber(block, DEVMINOR)
    ) {
      throw profileError(
        'tar-header',
        where,
        `The tar header at ${where} holds an owner, time or device number that is not a plain ` +
          `octal number in range: GNU tar fails on it, Python skips the entry (${PROFILE_SECTION}).`,
      );
    }
    return { block, type, size, mode, mtime, gnu };
  }

  private onEntry(block: Uint8Array, header: Header, where: string): void {
    const pax = this.pendingPax;
    const stored = pax?.path ?? this.pendingName ?? headerName(block, header.gnu);
    if (stored === undefined) {
      throw profileError(
        'name',
        where,
        `The entry at ${where} has a name that is not UTF-8: extractors would write different names (${PROFILE_SECTION}).`,
      );
    }
    const directory = header.type === TYPE_DIRECTORY;
    if (pax?.size !== undefined && pax.size !== header.size) {
      throw profileError(
        'size',
        stored,
        `The entry ${showName(stored)} has a pax size (${pax.size}) other than its header's ` +
          `(${header.size}): readers that follow one or the other read different entries after it (${PROFILE_SECTION}).`,
      );
    }
    if (directory && header.size !== 0) {
      throw profileError(
        'size',
        stored,
        `The folder ${showName(stored)} declares ${header.size} bytes of data; extractors skip or read them differently (${PROFILE_SECTION}).`,
      );
    }
    const wanted = directory ? 0o700 : 0o400;
    if (header.mode > 0o777 || (header.mode & wanted) !== wanted) {
      throw profileError(
        'mode',
        stored,
        `The entry ${showName(stored)} has mode ${header.mode.toString(8)}: the profile allows ` +
          `permission bits only (no setuid, setgid or sticky bit), readable by its owner, and ` +
          `folders its owner can enter (${PROFILE_SECTION}).`,
      );
    }
    const path = this.names.add(stored, directory ? 'directory' : 'file');
    const name = stored;
    const start = this.metaStart >= 0 ? this.metaStart : this.lastHeaderAt;
    const size = header.size;
    const mtime = pax?.mtime ?? header.mtime;
    // Every name that extracts onto dropName goes, so no variant spelling survives beside it.
    const drop = this.dropName !== undefined && extractedPath(name, 'tar') === this.dropName;
    if (this.hook) {
      const wants = this.hook.entry({
        name,
        path,
        linkname: '',
        typeflag: header.type,
        mode: header.mode,
        size,
        offset: start,
        mtime,
        ...(this.hook.owners ? { owner: { ...readOwner(block), ...paxOwner(pax) } } : {}),
      });
      this.hookLeft = wants ? size : 0;
    }
    if (drop) {
      this.result.dropped.push([start, this.offset + paddedSize(size)]);
    } else {
      for (const part of this.meta) this.keep(part);
      this.keep(block);
      this.result.entryCount++;
      this.result.newestMtime = Math.max(this.result.newestMtime, header.mtime);
    }
    this.meta = [];
    this.metaBytes = 0;
    this.metaStart = -1;
    this.pendingName = undefined;
    this.pendingPax = undefined;
    this.startBody(size, drop ? 'drop' : 'keep');
  }

  private startBody(size: number, mode: 'keep' | 'drop' | 'meta'): void {
    this.bodyLeft = paddedSize(size);
    this.bodyMode = mode;
    if (this.bodyLeft === 0) this.endBody();
  }

  private endBody(): void {
    if (this.bodyMode !== 'meta') return;
    const content = concatBytes(this.metaBody).subarray(0, this.metaSize);
    this.metaBody = [];
    if (this.metaType === TYPE_PAX) {
      this.pendingPax = paxRecords(content, this.metaName);
      return;
    }
    // GNU long name: the name and one NUL (as GNU tar and Python write it), nothing after.
    const zero = content.indexOf(0);
    const name = zero === content.length - 1 ? decodeUtf8(content.subarray(0, zero)) : undefined;
    if (name === undefined) {
      throw profileError(
        'name',
        this.metaName,
        `The GNU long name at ${this.metaName} is not one UTF-8 name ended by a NUL: extractors ` +
          `would read different names (${PROFILE_SECTION}).`,
      );
    }
    this.pendingName = name;
  }

  private addMeta(bytes: Uint8Array, isBody: boolean): void {
    this.metaBytes += bytes.length;
    if (this.metaBytes > MAX_META_BYTES + TAR_BLOCK * 2) {
      throw badTar(
        'header',
        `tar byte ${this.lastHeaderAt}`,
        'A tar extended header is implausibly large.',
      );
    }
    const copy = bytes.slice();
    this.meta.push(copy);
    if (isBody) this.metaBody.push(copy);
  }
}

/** The name a header itself gives (POSIX prefix applied), or undefined when it is not UTF-8. */
function headerName(block: Uint8Array, gnu: boolean): string | undefined {
  const name = fieldBytes(block, NAME) ?? new Uint8Array(0);
  const prefix = gnu ? undefined : fieldBytes(block, PREFIX);
  const decodedName = decodeUtf8(name);
  if (decodedName === undefined) return undefined;
  if (!prefix?.length) return decodedName;
  const decodedPrefix = decodeUtf8(prefix);
  return decodedPrefix === undefined ? undefined : `${decodedPrefix}/${decodedName}`;
}

/** The owner fields of a header block (see TarOwner). */
function readOwner(block: Uint8Array): TarOwner {
  return {
    uid: ownerNumber(block, UID),
    gid: ownerNumber(block, GID),
    uname: decodeUtf8(fieldBytes(block, UNAME) ?? new Uint8Array(0)) ?? '',
    gname: decodeUtf8(fieldBytes(block, GNAME) ?? new Uint8Array(0)) ?? '',
  };
}

/** The owner records of a pax header, only those it has. */
function paxOwner(pax: PaxRecords | undefined): Partial<TarOwner> {
  if (!pax) return {};
  const { uid, gid, uname, gname } = pax;
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    ...(uname !== undefined ? { uname } : {}),
    ...(gname !== undefined ? { gname } : {}),
  };
}
