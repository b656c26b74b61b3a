/**
 * tar as this project writes and reads it (POSIX.1-2017, pax utility, "ustar Interchange Format"):
 * one header record with exact, fixed metadata, and the one push-based reader, which applies pax
 * and GNU long-name headers and finds where the entries end and the end-of-archive zero blocks
 * begin (customising, walking and inspecting all go through it).
 */
import { concatBytes } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { extractedPath } from './paths.ts';

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
const TYPE_OLD_FILE = '\0';
const TYPE_PAX = 'x';
const TYPE_GNU_LONG_NAME = 'L';
const TYPE_GNU_LONG_LINK = 'K';
/** pax global header: settings for what follows, never extracted as a file. */
export const TYPE_PAX_GLOBAL = 'g';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
// Reading

export interface UstarHeader {
  name: string;
  linkname: string;
  typeflag: string;
  mode: number;
  size: number;
  mtime: number;
}

/** Who owns an entry; only inspection lists it, so the scanner reads it only when asked. */
export interface TarOwner {
  uid: number;
  gid: number;
  /** Empty unless the header carries a ustar (POSIX or GNU) magic. */
  uname: string;
  gname: string;
}

function readText(block: Uint8Array, [offset, length]: readonly [number, number]): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

/** Octal (spaces and NULs around it allowed) or the GNU base-256 form for large values. */
function readNumber(block: Uint8Array, [offset, length]: readonly [number, number], where: string) {
  if (block[offset]! & 0x80) {
    let value = block[offset]! & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + block[offset + i]!;
    return value;
  }
  const text = readText(block, [offset, length]).trim();
  if (!/^[0-7]*$/.test(text))
    throw badTar('header', where, 'A tar header holds a malformed number.');
  return text ? parseInt(text, 8) : 0;
}

/** Owner ids only inform inspection: a malformed one reads as 0 rather than refusing the base. */
function readOwnerNumber(block: Uint8Array, field: readonly [number, number]): number {
  try {
    return readNumber(block, field, '');
  } catch {
    return 0;
  }
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i]) return false;
  return true;
}

export function checksumMatches(block: Uint8Array): boolean {
  const stored = readText(block, CHKSUM).trim();
  if (!/^[0-7]+$/.test(stored)) return false;
  const wanted = parseInt(stored, 8);
  if (wanted === checksum(block)) return true;
  // Some old writers summed signed bytes.
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK; i++) {
    const b = i >= CHKSUM[0] && i < CHKSUM[0] + CHKSUM[1] ? CHKSUM_SPACE : block[i]!;
    signed += b > 127 ? b - 256 : b;
  }
  return wanted === signed;
}

/** Reads the fields the scanner needs; the checksum is checked by the caller. */
export function readUstarHeader(block: Uint8Array, where: string): UstarHeader {
  const name = readText(block, NAME);
  const magic = readText(block, [MAGIC[0], 5]);
  const prefix = magic === 'ustar' && block[MAGIC[0] + 5] === 0 ? readText(block, PREFIX) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    linkname: readText(block, LINKNAME),
    typeflag: String.fromCharCode(block[TYPEFLAG]!),
    mode: readNumber(block, MODE, where),
    size: readNumber(block, SIZE, where),
    mtime: readNumber(block, MTIME, where),
  };
}

/** The owner fields of a header block (see TarOwner). */
function readUstarOwner(block: Uint8Array): TarOwner {
  const ustar = readText(block, [MAGIC[0], 5]) === 'ustar';
  return {
    uid: readOwnerNumber(block, UID),
    gid: readOwnerNumber(block, GID),
    uname: ustar ? readText(block, UNAME) : '',
    gname: ustar ? readText(block, GNAME) : '',
  };
}

/** The pax records a reader applies to the entry that follows. */
interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  mtime?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
}

/**
 * The records of a pax extended header body (POSIX pax "pax Extended Header"): GNU tar honours
 * `path=`, `linkpath=` and `size=`, so a walk that ignored `size=` would read the entries out of
 * step with what tar extracts; the owner and time records only change what inspection lists.
 */
function paxRecords(body: Uint8Array): PaxRecords {
  const text = decoder.decode(body);
  let at = 0;
  const found: PaxRecords = {};
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    const length = parseInt(text.slice(at, space), 10);
    if (space < 0 || !(length > 0)) break;
    const record = text.slice(space + 1, at + length - 1);
    const equals = record.indexOf('=');
    const key = record.slice(0, equals);
    const value = record.slice(equals + 1);
    if (key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname') {
      found[key] = value;
    } else if ((key === 'size' || key === 'uid' || key === 'gid') && /^\d+$/.test(value)) {
      found[key] = Number(value);
    } else if (key === 'mtime' && Number.isFinite(parseFloat(value))) {
      found.mtime = Math.floor(parseFloat(value)); // fractional seconds are allowed
    }
    at += length;
  }
  return found;
}

export function normalizeEntryName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

const MAX_META_BYTES = 1 << 20;

/** One entry as the scanner meets it, its pax and GNU long names applied. */
export interface TarEntryInfo {
  /** The name exactly as stored (pax or GNU long name applied). */
  name: string;
  linkname: string;
  typeflag: string;
  mode: number;
  /** Bytes of data that follow the header (0 for links, directories and devices). */
  size: number;
  /** Tar offset of the entry's first header (its pax or long-name header, if any). */
  offset: number;
  /** Seconds since the epoch, any pax `mtime=` applied. */
  mtime: number;
  /** Only for a hook that sets `owners`; any pax owner records applied. */
  owner?: TarOwner;
}

/**
 * Optional hook into a scan: `entry` sees every entry (pax global headers included) and says
 * whether it wants the data, which then arrives through `data` in pieces.
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
  /** Entries seen (files, directories, links…), meta headers not counted. */
  entryCount: number;
  /** Newest mtime among the entries that were not dropped; 0 when there are none. */
  newestMtime: number;
  /** Tar byte ranges [start, end) of entries named `dropName`, their meta headers included. */
  dropped: [number, number][];
  /** Whether the two end-of-archive blocks were present. */
  sawEnd: boolean;
}

/**
 * Walks tar bytes pushed in chunks. Every byte of every entry goes to `keep`, except entries whose
 * name is `dropName` (and the pax or GNU long-name headers in front of them); the end-of-archive
 * blocks and anything after them are not passed on. Headers with a bad checksum are refused.
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
  private pendingName: string | undefined;
  private pendingLink: string | undefined;
  private pendingSize: number | undefined;
  /** pax owner and time records for the next entry (only the hook sees them). */
  private pendingPax: PaxRecords = {};
  /** Unpadded data bytes still to hand to the hook for the current entry. */
  private hookLeft = 0;
  private ended = false;
  private lastHeaderAt = 0;
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
    if (this.ended) this.offset += chunk.length - at;
  }

  /** Call when the input ends; throws when it ends inside an entry. */
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
    return this.result;
  }

  private onHeader(block: Uint8Array): void {
    const where = `tar byte ${this.offset}`;
    if (isZeroBlock(block)) {
      if (this.metaStart >= 0)
        throw badTar('header', where, 'A tar extended header is not followed by an entry.');
      this.ended = true;
      this.result.sawEnd = true;
      this.result.entriesEnd = this.offset;
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
    const header = readUstarHeader(block, where);
    this.lastHeaderAt = this.offset;
    this.offset += TAR_BLOCK;
    const type = header.typeflag;
    if (type === TYPE_PAX || type === TYPE_GNU_LONG_NAME || type === TYPE_GNU_LONG_LINK) {
      if (this.metaStart < 0) this.metaStart = this.lastHeaderAt;
      this.addMeta(block, false);
      this.metaType = type;
      this.metaSize = header.size;
      this.metaBody = [];
      this.startBody(header.size, 'meta');
      return;
    }
    const storedName = this.pendingName ?? header.name;
    const name = normalizeEntryName(storedName);
    const start = this.metaStart >= 0 ? this.metaStart : this.lastHeaderAt;
    const size = bodySize(header, this.pendingSize);
    // Every name that extracts onto dropName goes, so no variant spelling survives beside it.
    const drop = this.dropName !== undefined && extractedPath(name, 'tar') === this.dropName;
    if (this.hook) {
      const pax = this.pendingPax;
      const wants = this.hook.entry({
        name: storedName,
        linkname: this.pendingLink ?? header.linkname,
        typeflag: type,
        mode: header.mode,
        size,
        offset: start,
        mtime: pax.mtime ?? header.mtime,
        ...(this.hook.owners ? { owner: { ...readUstarOwner(block), ...paxOwner(pax) } } : {}),
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
    this.pendingLink = undefined;
    this.pendingSize = undefined;
    this.pendingPax = {};
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
    if (this.metaType === TYPE_PAX) {
      const records = paxRecords(content);
      this.pendingName = records.path ?? this.pendingName;
      this.pendingLink = records.linkpath ?? this.pendingLink;
      this.pendingSize = records.size ?? this.pendingSize;
      this.pendingPax = { ...this.pendingPax, ...records };
    } else {
      const zero = content.indexOf(0);
      const text = decoder.decode(zero < 0 ? content : content.subarray(0, zero));
      if (this.metaType === TYPE_GNU_LONG_NAME) this.pendingName = text;
      else this.pendingLink = text;
    }
    this.metaBody = [];
  }

  private addMeta(bytes: Uint8Array, isBody: boolean): void {
    this.metaBytes += bytes.length;
    if (this.metaBytes > MAX_META_BYTES) {
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

/** The owner records of a pax header, only those it has. */
function paxOwner(pax: PaxRecords): Partial<TarOwner> {
  const { uid, gid, uname, gname } = pax;
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    ...(uname !== undefined ? { uname } : {}),
    ...(gname !== undefined ? { gname } : {}),
  };
}

/** Only regular files (and their old and contiguous forms) carry data; GNU tar agrees. */
function bodySize(header: UstarHeader, paxSize: number | undefined): number {
  const t = header.typeflag;
  const hasData = t === TYPE_FILE || t === TYPE_OLD_FILE || t === '7' || !'123456'.includes(t);
  return hasData ? (paxSize ?? header.size) : 0;
}
