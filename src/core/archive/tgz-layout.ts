/**
 * The append-ready layout of a tgz installer (docs/formats.md#append-ready-tgz): three kinds of
 * gzip member, each marked with an FEXTRA "cb" subfield, which any gzip reader reads as one stream
 * (RFC 1952 §2.2):
 *
 *   "entries"     one or more: every tar entry except a trailing vesselinfo, cut at entry
 *                 boundaries; a base's entries members say their own length (`deflate=N`), so a
 *                 reader can hand each to its own inflater as soon as it has arrived
 *   "vesselinfo"  optional: exactly the vesselinfo entry (stored blocks when customised)
 *   "end"         the end-of-archive zero blocks, padded to a 10240-byte record, with the
 *                           marker `role=end tar=<E> gz=<T> vesselinfo=<none|inside|V> mtime=<M>
 *                           prev=<crc>:<isize>` describing the layout
 *
 * Detection reads only the last few KiB: it finds the end marker, re-parses it, and inflates the
 * end member to check it is exactly the zero blocks. Here too: writing bases in the layout, and the
 * splice that puts a new vesselinfo member and end member after the entries.
 */
import { bytesEqual, concatBytes, lastIndexOfBytes } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { deflateSync } from 'fflate';
import { crc32 } from './crc32.ts';
import {
  GZIP_TRAILER_LENGTH,
  gunzipChecked,
  readGzipHeader,
  writeGzipHeader,
  writeGzipMember,
  writeGzipTrailer,
  type DeflateLevel,
} from './gzip.ts';
import { TAR_BLOCK, TarScanner, endOfArchiveLength, writeTarEntry } from './tar.ts';
import {
  endMemberFor,
  markerSubfield,
  MARKER_ID,
  MARKER_TAG,
  spliceMembers,
  trailerText,
  writeEndMember,
  type EndMarker,
} from './tgz-marker.ts';
import { VESSELINFO_PATH } from './vesselinfo-entries.ts';

export {
  markerSubfield,
  MARKER_ID,
  MARKER_TAG,
  VESSELINFO_MODE,
  vesselinfoEntry,
  vesselinfoMember,
  writeEndMember,
  type EndMarker,
} from './tgz-marker.ts';

/** Bases are built once and downloaded many times: compress them hard. */
export const BASE_LEVEL: DeflateLevel = 9;
/**
 * The generic path recompresses the whole base on every build. Level 1 keeps it ahead of the old
 * `gzip -dc | tar -rf | gzip -c` pipeline; see the README's tgz section for the size trade-off.
 */
export const GENERIC_LEVEL: DeflateLevel = 1;

/**
 * Tar bytes per entries member of a base: each member ends at the first entry boundary at or past
 * this many bytes, so members inflate independently (in parallel where the reader can) at a cost
 * of well under 1% in size.
 */
export const ENTRIES_MEMBER_BYTES = 1 << 20;
/** Our end member is small (header + a few dozen bytes of deflated zeros); search this far back. */
const END_SEARCH_BYTES = 4096;
/** Offset of the marker text inside our own member header: fixed fields, XLEN, subfield header. */
const MARKER_TEXT_OFFSET = 10 + 2 + 4;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function badBase(code: string, where: string, message: string): CibError {
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

export function roleOf(bytes: Uint8Array, offset: number): string | undefined {
  const header = readGzipHeader(bytes, offset);
  const marker = header.subfields.find((s) => s.id[0] === MARKER_ID[0] && s.id[1] === MARKER_ID[1]);
  if (!marker) return undefined;
  const text = decoder.decode(marker.data);
  return text.startsWith(`${MARKER_TAG} role=`)
    ? text.slice(MARKER_TAG.length + 6).split(' ')[0]
    : undefined;
}

// ---------------------------------------------------------------------------------------------
// Detecting the layout

export interface AppendReady {
  marker: EndMarker;
  /** Where the new vesselinfo member goes: V when the base has one of ours, else T. */
  cut: number;
  /** Tar offset of that cut. */
  cutTar: number;
}

/** Finds and checks the end member; undefined when the base is not append-ready. */
export function findAppendReady(base: Uint8Array, offset = 0): AppendReady | undefined {
  const tag = encoder.encode(`${MARKER_TAG} role=end `);
  const from = Math.max(0, base.length - END_SEARCH_BYTES);
  let at = lastIndexOfBytes(base, tag, from);
  while (at >= 0) {
    const found = checkEndAt(base, at - MARKER_TEXT_OFFSET, offset);
    if (found) return found;
    at = lastIndexOfBytes(base.subarray(0, at + tag.length - 1), tag, from);
  }
  return undefined;
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
    // The end member as this project writes it is recognised by its bytes; any other (older
    // bases deflated theirs with fflate) is inflated.
    if (!bytesEqual(base.subarray(start), endMemberFor(marker))) {
      const zeros = gunzipChecked(base.subarray(start));
      if (zeros.length !== endOfArchiveLength(marker.tar) || zeros.some((b) => b !== 0))
        return undefined;
    }
    if (offset === 0) readGzipHeader(base, 0);
    if (typeof marker.vesselinfo === 'number') {
      const v = marker.vesselinfo - offset;
      if (v < 0 || v >= start || roleOf(base, v) !== 'vesselinfo') return undefined;
      // Our vesselinfo member is small: inflate it and check it holds exactly that one entry.
      const raw = gunzipChecked(base.subarray(v, start));
      const scan = new TarScanner(() => {}, VESSELINFO_PATH, undefined, { fragment: true });
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

/**
 * An entries member that says its own length: `role=entries deflate=N`, N being the bytes of
 * deflate data between the header and the trailer (docs/formats.md#append-ready-tgz).
 */
export function writeEntriesMember(raw: Uint8Array, level: DeflateLevel = BASE_LEVEL): Uint8Array {
  const body = deflateSync(raw, { level });
  const header = writeGzipHeader(level, markerSubfield(`role=entries deflate=${body.length}`));
  return concatBytes([header, body, writeGzipTrailer(crc32(raw), raw.length)]);
}

/**
 * Where the entries members of `tar[0, end)` are cut: at each entry start at least
 * ENTRIES_MEMBER_BYTES past the previous cut.
 */
function entriesCuts(starts: readonly number[], end: number): number[] {
  const cuts = [0];
  for (const start of starts) {
    if (start < end && start - cuts[cuts.length - 1]! >= ENTRIES_MEMBER_BYTES) cuts.push(start);
  }
  cuts.push(end);
  return cuts;
}

/** Splits a whole tar into the append-ready members; the tar bytes before its end stay as they are. */
function appendReadyFromTar(tar: Uint8Array): Uint8Array {
  const starts: number[] = [];
  const scanner = new TarScanner(() => {}, VESSELINFO_PATH, {
    entry: (info) => {
      starts.push(info.offset);
      return false;
    },
    data: () => {},
  });
  scanner.push(tar);
  const scan = scanner.finish();
  const entriesEnd = scan.entriesEnd;
  const only = scan.dropped.length === 1 ? scan.dropped[0]! : undefined;
  const vesselinfoLast = only !== undefined && only[1] === entriesEnd;
  const split = vesselinfoLast ? only[0] : entriesEnd;
  const cuts = entriesCuts(starts, split);
  const parts: Uint8Array[] = [];
  for (let i = 1; i < cuts.length; i++) {
    parts.push(writeEntriesMember(tar.subarray(cuts[i - 1]!, cuts[i]!)));
  }
  let vesselinfo: EndMarker['vesselinfo'] = scan.dropped.length ? 'inside' : 'none';
  if (vesselinfoLast) {
    vesselinfo = parts.reduce((n, p) => n + p.length, 0);
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
// Splicing

/** Everything before the cut (a view, not a copy), then a new vesselinfo member and end member. */
export function spliceAppendReadyParts(
  base: Uint8Array,
  ready: AppendReady,
  vesselinfo: string,
  offset = 0,
): [Uint8Array, Uint8Array, Uint8Array] {
  const [member, end] = spliceMembers(
    { cut: ready.cut, cutTar: ready.cutTar, mtime: ready.marker.mtime },
    vesselinfo,
  );
  return [base.subarray(0, ready.cut - offset), member, end];
}
