/**
 * gzip-compressed tar installers (linux, mac): writing bases in the append-ready layout, turning
 * any tgz into that layout, and adding `seattle/seattle_repy/vesselinfo` (spec §2, issue 3 §1).
 *
 * Append-ready layout (this project's own; readers need not know it, since RFC 1952 §2.2 makes a
 * series of gzip members one stream, which gzip, GNU tar and Python's tarfile all read):
 *
 *   member 1  "entries"     every tar entry except a trailing vesselinfo (FEXTRA marker role=entries)
 *   member 2  "vesselinfo"  optional: exactly the vesselinfo entry (FEXTRA marker role=vesselinfo)
 *   member 3  "end"         the end-of-archive zero blocks, padded to a 10240-byte record, with the
 *                           FEXTRA marker role=end describing the layout
 *
 * Every marker is one RFC 1952 §2.3.1.1 subfield with id "cb" whose data is ASCII text:
 *   `cib-append-ready/1 role=end tar=<E> gz=<T> vesselinfo=<none|inside|V> mtime=<M> prev=<crc>:<isize>`
 * E: tar offset where the entries end; T: file offset where the end member starts; V: file offset of
 * the vesselinfo member ("inside": a vesselinfo sits among the entries, so customising must take
 * the generic path); M: the newest mtime of the base's entries (the vesselinfo's mtime, never the
 * clock); prev: CRC-32 and ISIZE of the member just before T (a cheap check against shifted or cut
 * data). Detection reads only the last few KiB: it finds the end marker, re-parses it, and
 * decompresses the end member to check it is exactly the zero blocks. Nothing else is inflated.
 *
 * Entry names: customizing refuses an ambiguous base (several entries extracting to the
 * vesselinfo, or a link there), which only the entries' names can tell. So the entries member is
 * always inflated once (checking its CRC-32 on the way), even when the manifest's SHA-256 has
 * vouched for the bytes; the splice itself still copies them untouched.
 */
import { Deflate } from 'fflate';
import { unpackTar } from 'modern-tar';
import { CibError, problem } from '../problems.ts';
import { crc32 } from './crc32.ts';
import {
  GZIP_TRAILER_LENGTH,
  GzipReader,
  concatBytes,
  gunzipChecked,
  readGzipHeader,
  writeGzipHeader,
  writeGzipMember,
  writeGzipTrailer,
  type DeflateLevel,
  type GzipSubfield,
} from './gzip.ts';
import {
  TAR_BLOCK,
  TYPE_PAX_GLOBAL,
  TarScanner,
  endOfArchiveLength,
  writeTarEntry,
  type TarScanResult,
} from './tar.ts';
import { VESSELINFO_PATH, VesselinfoFinder } from './vesselinfo-entries.ts';
import { MAX_VESSELINFO_BYTES, TgzWalker, tarArchiveEntry, type WalkLimits } from './walk.ts';

export { VESSELINFO_PATH } from './vesselinfo-entries.ts';

/**
 * Customising reads only names, from an operator's base it streams: no cap on its total size, and
 * the generic path's larger inflate pieces (its memory was never bounded against a bomb base).
 */
const CUSTOMIZE_LIMITS: WalkLimits = {
  maxEntryBytes: MAX_VESSELINFO_BYTES,
  maxTotalBytes: Number.POSITIVE_INFINITY,
  inflatePiece: 1 << 18,
};
/** The new entry's fixed metadata: rw-r--r--, owner 0/0, empty user and group names. */
export const VESSELINFO_MODE = 0o644;
/** Bases are built once and downloaded many times: compress them hard. */
export const BASE_LEVEL: DeflateLevel = 9;
/**
 * The generic path recompresses the whole base on every build. Level 1 keeps it ahead of the old
 * `gzip -dc | tar -rf | gzip -c` pipeline; see the README's tgz section for the size trade-off.
 */
export const GENERIC_LEVEL: DeflateLevel = 1;

const MARKER_ID: [number, number] = [0x63, 0x62]; // "cb"
const MARKER_TAG = 'cib-append-ready/1';
/** Our end member is small (header + a few dozen bytes of deflated zeros); search this far back. */
const END_SEARCH_BYTES = 4096;
/** Offset of the marker text inside our own member header: fixed fields, XLEN, subfield header. */
const MARKER_TEXT_OFFSET = 10 + 2 + 4;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function badBase(code: string, where: string, message: string): CibError {
  return new CibError(problem(`base.${code}`, where, message));
}

export interface TgzEntryInput {
  path: string;
  data?: Uint8Array;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  type?: 'file' | 'directory';
}

interface EndMarker {
  tar: number;
  gz: number;
  vesselinfo: 'none' | 'inside' | number;
  mtime: number;
  prev: string;
}

function markerSubfield(text: string): GzipSubfield {
  return { id: MARKER_ID, data: encoder.encode(`${MARKER_TAG} ${text}`) };
}

function formatEnd(marker: EndMarker): string {
  return `role=end tar=${marker.tar} gz=${marker.gz} vesselinfo=${marker.vesselinfo} mtime=${marker.mtime} prev=${marker.prev}`;
}

const END_PATTERN =
  /^cib-append-ready\/1 role=end tar=(\d+) gz=(\d+) vesselinfo=(none|inside|\d+) mtime=(\d+) prev=([0-9a-f]{8}:\d+)$/;

function parseEnd(text: string): EndMarker | undefined {
  const m = END_PATTERN.exec(text);
  if (!m) return undefined;
  const v = m[3]!;
  return {
    tar: Number(m[1]),
    gz: Number(m[2]),
    vesselinfo: v === 'none' || v === 'inside' ? v : Number(v),
    mtime: Number(m[4]),
    prev: m[5]!,
  };
}

function trailerText(member: Uint8Array): string {
  const view = new DataView(member.buffer, member.byteOffset + member.length - 8, 8);
  return `${view.getUint32(0, true).toString(16).padStart(8, '0')}:${view.getUint32(4, true)}`;
}

function roleOf(bytes: Uint8Array, offset: number): string | undefined {
  const header = readGzipHeader(bytes, offset);
  const marker = header.subfields.find((s) => s.id[0] === MARKER_ID[0] && s.id[1] === MARKER_ID[1]);
  if (!marker) return undefined;
  const text = decoder.decode(marker.data);
  return text.startsWith(`${MARKER_TAG} role=`)
    ? text.slice(MARKER_TAG.length + 6).split(' ')[0]
    : undefined;
}

/** The end member with its marker; `before` is everything in front of it (for `gz` and `prev`). */
function writeEndMember(
  beforeLength: number,
  previousMember: Uint8Array,
  entriesEnd: number,
  vesselinfo: EndMarker['vesselinfo'],
  mtime: number,
): Uint8Array {
  const zeros = new Uint8Array(endOfArchiveLength(entriesEnd));
  const marker: EndMarker = {
    tar: entriesEnd,
    gz: beforeLength,
    vesselinfo,
    mtime,
    prev: trailerText(previousMember),
  };
  return writeGzipMember(zeros, BASE_LEVEL, markerSubfield(formatEnd(marker)));
}

function vesselinfoEntry(text: string, mtime: number): Uint8Array {
  const data = encoder.encode(text);
  return writeTarEntry(
    { name: VESSELINFO_PATH, mode: VESSELINFO_MODE, size: data.length, mtime, type: 'file' },
    data,
  );
}

// ---------------------------------------------------------------------------------------------
// Detecting the layout

interface AppendReady {
  marker: EndMarker;
  /** Where the new vesselinfo member goes: V when the base has one of ours, else T. */
  cut: number;
  /** Tar offset of that cut. */
  cutTar: number;
}

/** Finds and checks the end member; undefined when the base is not append-ready. */
function findAppendReady(base: Uint8Array, offset = 0): AppendReady | undefined {
  const tag = encoder.encode(`${MARKER_TAG} role=end `);
  const from = Math.max(0, base.length - END_SEARCH_BYTES);
  let at = lastIndexOf(base, tag, from);
  while (at >= 0) {
    const found = checkEndAt(base, at - MARKER_TEXT_OFFSET, offset);
    if (found) return found;
    at = lastIndexOf(base.subarray(0, at + tag.length - 1), tag, from);
  }
  return undefined;
}

function lastIndexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = haystack.length - needle.length; i >= from; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** `base` may be the tail of a file that starts `offset` bytes in; the marker holds file offsets. */
function checkEndAt(base: Uint8Array, start: number, offset: number): AppendReady | undefined {
  if (start < GZIP_TRAILER_LENGTH) return undefined;
  try {
    const header = readGzipHeader(base, start);
    const subfield = header.subfields[0];
    if (
      header.subfields.length !== 1 ||
      !subfield ||
      subfield.id[0] !== MARKER_ID[0] ||
      subfield.id[1] !== MARKER_ID[1]
    ) {
      return undefined;
    }
    const marker = parseEnd(decoder.decode(subfield.data));
    if (!marker || marker.gz !== start + offset || marker.tar % TAR_BLOCK) return undefined;
    if (trailerText(base.subarray(0, start)) !== marker.prev) return undefined;
    const zeros = gunzipChecked(base.subarray(start));
    if (zeros.length !== endOfArchiveLength(marker.tar) || zeros.some((b) => b !== 0))
      return undefined;
    if (offset === 0) readGzipHeader(base, 0);
    if (typeof marker.vesselinfo === 'number') {
      const v = marker.vesselinfo - offset;
      if (v < 0 || v >= start || roleOf(base, v) !== 'vesselinfo') return undefined;
      // Our vesselinfo member is small: inflate it and check it holds exactly that one entry.
      const raw = gunzipChecked(base.subarray(v, start));
      const scan = new TarScanner(() => {}, VESSELINFO_PATH);
      scan.push(raw);
      const result = scan.finish();
      if (
        result.entryCount !== 0 ||
        result.dropped.length !== 1 ||
        result.entriesEnd !== raw.length
      ) {
        return undefined;
      }
      return { marker, cut: marker.vesselinfo, cutTar: marker.tar - raw.length };
    }
    return { marker, cut: start + offset, cutTar: marker.tar };
  } catch {
    return undefined;
  }
}

/** Whether `base` is in the append-ready layout (reads only its last few KiB). */
export function isAppendReady(base: Uint8Array): boolean {
  return findAppendReady(base) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Writing append-ready bases

/** Splits a whole tar into the append-ready members; the tar bytes before its end stay as they are. */
function appendReadyFromTar(tar: Uint8Array): Uint8Array {
  const scanner = new TarScanner(() => {}, VESSELINFO_PATH);
  scanner.push(tar);
  const scan = scanner.finish();
  const entriesEnd = scan.entriesEnd;
  const only = scan.dropped.length === 1 ? scan.dropped[0]! : undefined;
  const vesselinfoLast = only !== undefined && only[1] === entriesEnd;
  const split = vesselinfoLast ? only[0] : entriesEnd;
  const parts: Uint8Array[] = [
    writeGzipMember(tar.subarray(0, split), BASE_LEVEL, markerSubfield('role=entries')),
  ];
  let vesselinfo: EndMarker['vesselinfo'] = scan.dropped.length ? 'inside' : 'none';
  if (vesselinfoLast) {
    vesselinfo = parts[0]!.length;
    parts.push(
      writeGzipMember(
        tar.subarray(split, entriesEnd),
        BASE_LEVEL,
        markerSubfield('role=vesselinfo'),
      ),
    );
  }
  const before = parts.reduce((n, p) => n + p.length, 0);
  parts.push(
    writeEndMember(before, parts[parts.length - 1]!, entriesEnd, vesselinfo, scan.newestMtime),
  );
  return concatBytes(parts);
}

/** A base in the append-ready layout holding `entries` in the order given. */
export function writeAppendReadyTgz(entries: readonly TgzEntryInput[]): Uint8Array {
  const records = entries.map((e) =>
    writeTarEntry(
      {
        name: e.path,
        mode: e.mode,
        size: e.data?.length ?? 0,
        mtime: e.mtime,
        type: e.type ?? 'file',
      },
      e.data,
    ),
  );
  const entriesLength = records.reduce((n, r) => n + r.length, 0);
  records.push(new Uint8Array(endOfArchiveLength(entriesLength)));
  return appendReadyFromTar(concatBytes(records));
}

/**
 * Rewrites any gzip-compressed tar into the append-ready layout. The tar bytes of every entry are
 * kept exactly; only the gzip framing and the end-of-archive padding change.
 */
export function makeAppendReady(tgz: Uint8Array): Uint8Array {
  return appendReadyFromTar(gunzipChecked(tgz));
}

// ---------------------------------------------------------------------------------------------
// Customising

export interface CustomizeTgzOptions {
  /**
   * The caller has verified the base's bytes (the manifest SHA-256): no CRC pass of its own.
   * Unless `knownClean` too, the entries are still inflated, to check their names.
   */
  baseVerified?: boolean;
  /**
   * The caller walked these very bytes (with `baseVerified`, the same SHA-256) and found no entry
   * extracting to the vesselinfo: the splice may then skip its own walk (checkBase, base-check.ts).
   */
  knownClean?: boolean;
  /** Deflate level for the generic path's recompression. */
  level?: DeflateLevel;
}

/**
 * Adds (or replaces) `seattle/seattle_repy/vesselinfo`; the output is itself append-ready. A base
 * with more than one entry extracting to that path, or one that is not a regular file, is refused
 * (VesselinfoFinder), so the entries are always read, even of a base whose SHA-256 was checked.
 */
export function customizeTgz(
  base: Uint8Array,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): Uint8Array {
  return concatBytes(customizeTgzParts(base, vesselinfo, options));
}

/**
 * customizeTgz as the pieces that make up the output, in order. For an append-ready base the first
 * piece is a view into `base` (no copy), so a caller holding the base elsewhere (a Blob) can
 * assemble the file without touching its bytes.
 */
export function customizeTgzParts(
  base: Uint8Array,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): Uint8Array[] {
  const ready = findAppendReady(base);
  if (ready && ready.marker.vesselinfo !== 'inside') {
    if (options.knownClean && options.baseVerified)
      return spliceAppendReadyParts(base, ready, vesselinfo);
    // Walk the entries before the cut: they must hold no vesselinfo the splice would keep.
    const finder = new VesselinfoFinder(false);
    const walker = new TgzWalker(finder, CUSTOMIZE_LIMITS);
    walker.push(base.subarray(0, ready.cut), true);
    if (finder.matches.length === 0) {
      if (walker.summary.inflated !== ready.cutTar) {
        throw badBase(
          'gzip.size',
          'byte 0',
          'The base does not match its own append-ready marker.',
        );
      }
      return spliceAppendReadyParts(base, ready, vesselinfo);
    }
    // A vesselinfo the marker does not account for: the generic path drops or refuses it.
  }
  const out: Uint8Array[] = [];
  const customizer = new GenericCustomizer(vesselinfo, options.level ?? GENERIC_LEVEL, (c) =>
    out.push(c),
  );
  customizer.push(base, true);
  return out;
}

/** Everything before the cut (a view, not a copy), then a new vesselinfo member and end member. */
function spliceAppendReadyParts(
  base: Uint8Array,
  ready: AppendReady,
  vesselinfo: string,
  offset = 0,
): [Uint8Array, Uint8Array, Uint8Array] {
  const entry = vesselinfoEntry(vesselinfo, ready.marker.mtime);
  const member = writeGzipMember(entry, BASE_LEVEL, markerSubfield('role=vesselinfo'));
  const end = writeEndMember(
    ready.cut + member.length,
    member,
    ready.cutTar + entry.length,
    ready.cut,
    ready.marker.mtime,
  );
  return [base.subarray(0, ready.cut - offset), member, end];
}

const DEFLATE_PIECE = 1 << 16;

/** Raw-deflate stream wrapped in our own gzip header and trailer, so we can mark the member. */
class GzipMemberWriter {
  private readonly deflate: Deflate;
  private crc = 0;
  private size = 0;
  private written = 0;
  private lastTrailer: Uint8Array = new Uint8Array(0);
  private readonly buffer = new Uint8Array(DEFLATE_PIECE);
  private pending = 0;

  constructor(
    level: DeflateLevel,
    subfield: GzipSubfield,
    private readonly emit: (chunk: Uint8Array) => void,
  ) {
    this.deflate = new Deflate({ level }, (chunk) => this.out(chunk));
    this.out(writeGzipHeader(level, subfield));
  }
  push(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    // fflate deflates far faster in moderate pieces than in one huge or many tiny pushes.
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(DEFLATE_PIECE - this.pending, chunk.length - at);
      this.buffer.set(chunk.subarray(at, at + n), this.pending);
      this.pending += n;
      at += n;
      if (this.pending === DEFLATE_PIECE) {
        this.deflate.push(this.buffer.slice(), false);
        this.pending = 0;
      }
    }
  }
  finish(): { length: number; trailer: Uint8Array } {
    this.deflate.push(this.buffer.slice(0, this.pending), true);
    this.pending = 0;
    this.lastTrailer = writeGzipTrailer(this.crc, this.size);
    this.out(this.lastTrailer);
    return { length: this.written, trailer: this.lastTrailer };
  }
  private out(chunk: Uint8Array): void {
    if (!chunk.length) return;
    this.written += chunk.length;
    this.emit(chunk);
  }
}

/**
 * The generic path, push-based so it serves both the whole-buffer and the streaming form:
 * gunzip (checking every member) -> tar scan (dropping an old vesselinfo and the end blocks) ->
 * deflate into an entries member, then the vesselinfo and end members. Memory stays bounded by
 * fflate's windows and our chunk sizes.
 */
export class GenericCustomizer {
  private readonly reader: GzipReader;
  private readonly scanner: TarScanner;
  private readonly entries: GzipMemberWriter;

  constructor(
    private readonly vesselinfo: string,
    private readonly level: DeflateLevel,
    private readonly emit: (chunk: Uint8Array) => void,
  ) {
    this.entries = new GzipMemberWriter(level, markerSubfield('role=entries'), emit);
    const finder = new VesselinfoFinder(false);
    this.scanner = new TarScanner((bytes) => this.entries.push(bytes), VESSELINFO_PATH, {
      entry(info) {
        if (info.typeflag === TYPE_PAX_GLOBAL) return false;
        finder.onEntry(tarArchiveEntry(info));
        finder.assertUnambiguous(); // refused at once, before the rest is recompressed
        return false;
      },
      data() {},
    });
    this.reader = new GzipReader((chunk) => this.scanner.push(chunk));
  }

  push(chunk: Uint8Array, final = false): void {
    this.reader.push(chunk, final);
    if (final) this.finish(this.scanner.finish());
  }

  private finish(scan: TarScanResult): void {
    const keptLength = scan.entriesEnd - scan.dropped.reduce((n, [s, e]) => n + (e - s), 0);
    const { length } = this.entries.finish();
    const entry = vesselinfoEntry(this.vesselinfo, scan.newestMtime);
    const member = writeGzipMember(entry, BASE_LEVEL, markerSubfield('role=vesselinfo'));
    this.emit(member);
    this.emit(
      writeEndMember(
        length + member.length,
        member,
        keptLength + entry.length,
        length,
        scan.newestMtime,
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Streaming form

/** Held back in pass-through mode: enough for our vesselinfo and end members. */
const HOLD_BACK_BYTES = 1 << 20;

/**
 * customizeTgz over Web Streams, for bases too large to hold twice. A base whose first member
 * carries our `role=entries` marker is passed through (the last MiB held back until the end shows
 * where to cut) while its members are inflated alongside to check their CRC-32 and entry names;
 * any other base takes the generic path chunk by chunk. Errors abort the stream, so an ambiguous
 * base leaves no output.
 */
export function customizeTgzStream(
  input: ReadableStream<Uint8Array>,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): ReadableStream<Uint8Array> {
  let head: Uint8Array = new Uint8Array(0);
  let mode: 'undecided' | 'pass' | 'generic' = 'undecided';
  let generic: GenericCustomizer | undefined;
  let checker: TgzWalker | undefined;
  const finder = new VesselinfoFinder(false);
  let held: Uint8Array[] = [];
  let heldLength = 0;
  let emitted = 0;
  return input.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (mode === 'undecided') {
          head = concatBytes([head, chunk]);
          let role: string | undefined;
          try {
            role = roleOf(head, 0);
          } catch (error) {
            if (
              error instanceof CibError &&
              error.code === 'base.gzip.truncated' &&
              head.length < 65536
            )
              return;
            throw error;
          }
          chunk = head;
          if (role === 'entries') {
            mode = 'pass';
            // Inflated alongside, unless the caller already walked these verified bytes: the
            // names decide whether the base is ambiguous.
            if (!(options.knownClean && options.baseVerified))
              checker = new TgzWalker(finder, CUSTOMIZE_LIMITS);
          } else {
            mode = 'generic';
            generic = new GenericCustomizer(vesselinfo, options.level ?? GENERIC_LEVEL, (c) =>
              controller.enqueue(c),
            );
          }
        }
        if (mode === 'generic') {
          generic!.push(chunk);
          return;
        }
        checker?.push(chunk);
        held.push(chunk);
        heldLength += chunk.length;
        while (held.length > 1 && heldLength - held[0]!.length >= HOLD_BACK_BYTES) {
          const first = held.shift()!;
          heldLength -= first.length;
          emitted += first.length;
          controller.enqueue(first);
        }
      },
      flush(controller) {
        if (mode === 'undecided') {
          // Short input: decide on what we have (and let the checks report what is wrong).
          controller.enqueue(customizeTgz(head, vesselinfo, options));
          return;
        }
        if (mode === 'generic') {
          generic!.push(new Uint8Array(0), true);
          return;
        }
        checker?.push(new Uint8Array(0), true);
        finder.assertUnambiguous();
        const tail = concatBytes(held);
        held = [];
        const found = findAppendReady(tail, emitted);
        if (!found || found.marker.vesselinfo === 'inside' || found.cut < emitted) {
          throw badBase(
            'tgz.layout',
            'end of file',
            'The base starts like an append-ready base but its end marker is missing or damaged.',
          );
        }
        if (checker && !checker.memberOffsets.includes(found.cut)) {
          throw badBase(
            'tgz.layout',
            'end of file',
            'The append-ready marker does not point at a gzip member.',
          );
        }
        const stray = finder.matches.find((m) => (m.offset ?? 0) < found.cutTar);
        if (stray) {
          throw badBase(
            'tgz.layout',
            stray.name,
            'This vesselinfo entry lies where the append-ready marker says there is none; run cib prepare-base on the base.',
          );
        }
        controller.enqueue(concatBytes(spliceAppendReadyParts(tail, found, vesselinfo, emitted)));
      },
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Inspection (modern-tar reads the entries; pax and GNU long names included)

export interface TgzEntry {
  path: string;
  type: string;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  linkname: string;
  data?: Uint8Array;
}

/** Every entry of a tgz, in archive order, after checking every gzip member's CRC-32. */
export async function readTgzEntries(base: Uint8Array): Promise<TgzEntry[]> {
  const tar = gunzipChecked(base);
  // Our scanner first: it refuses bad checksums and truncation with our error codes.
  const scanner = new TarScanner(() => {});
  scanner.push(tar);
  scanner.finish();
  let parsed;
  try {
    parsed = await unpackTar(tar, { strict: true });
  } catch (error) {
    throw badBase(
      'tar.corrupt',
      'tar',
      `The tar archive cannot be read (${(error as Error).message}).`,
    );
  }
  return parsed.map(({ header, data }) => ({
    path: header.name,
    type: header.type ?? 'file',
    mode: header.mode ?? 0,
    mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    uname: header.uname ?? '',
    gname: header.gname ?? '',
    size: header.size,
    linkname: header.linkname ?? '',
    ...(data ? { data } : {}),
  }));
}

/** The bytes of one file in a tgz (the last entry of that name, as tar extracts it), or undefined. */
export async function readTgzFile(base: Uint8Array, path: string): Promise<Uint8Array | undefined> {
  const wanted = path.replace(/^(\.\/)+/, '');
  const entries = await readTgzEntries(base);
  return entries
    .reverse()
    .find((e) => e.path.replace(/^(\.\/)+/, '') === wanted && e.type === 'file')?.data;
}
