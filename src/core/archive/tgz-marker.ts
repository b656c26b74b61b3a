/**
 * The small members a customisation of an append-ready base writes after the cut
 * (docs/formats.md#append-ready-tgz): the vesselinfo member, in stored blocks, and the end member
 * with its marker, a run of zero bytes deflated by our own code (gzip-frame.ts). Neither needs a
 * compressor, so splicing a checked base loads none, and the output depends on nothing but the
 * base and the vesselinfo.
 */
import {
  writeStoredGzipMember,
  writeZerosGzipMember,
  type DeflateLevel,
  type GzipSubfield,
} from './gzip-frame.ts';
import { read32 } from '../bytes.ts';
import { endOfArchiveLength, writeTarEntry } from './tar.ts';
import { VESSELINFO_PATH } from './vesselinfo-entries.ts';

export const MARKER_ID: [number, number] = [0x63, 0x62]; // "cb"
export const MARKER_TAG = 'cib-append-ready/1';
/** The new entry's fixed metadata: rw-r--r--, owner 0/0, empty user and group names. */
export const VESSELINFO_MODE = 0o644;
/** The end member's header says "maximum compression" (XFL 2): 258-byte matches of zeros. */
const END_LEVEL: DeflateLevel = 9;

const encoder = new TextEncoder();

export interface EndMarker {
  tar: number;
  gz: number;
  vesselinfo: 'none' | 'inside' | number;
  mtime: number;
  prev: string;
}

export function markerSubfield(text: string): GzipSubfield {
  return { id: MARKER_ID, data: encoder.encode(`${MARKER_TAG} ${text}`) };
}

export function formatEnd(marker: EndMarker): string {
  return `role=end tar=${marker.tar} gz=${marker.gz} vesselinfo=${marker.vesselinfo} mtime=${marker.mtime} prev=${marker.prev}`;
}

/** A member's trailer as the end marker's `prev` writes it: CRC-32 in hex, ISIZE in decimal. */
export function trailerText(member: Uint8Array): string {
  const crc = read32(member, member.length - 8);
  return `${crc.toString(16).padStart(8, '0')}:${read32(member, member.length - 4)}`;
}

/** The end member for this marker: the tar's end-of-archive zero bytes after `marker.tar`. */
export function endMemberFor(marker: EndMarker): Uint8Array {
  return writeZerosGzipMember(
    endOfArchiveLength(marker.tar),
    END_LEVEL,
    markerSubfield(formatEnd(marker)),
  );
}

/** The end member with its marker; `beforeLength` bytes lie in front of it (its `gz`). */
export function writeEndMember(
  beforeLength: number,
  previousMember: Uint8Array,
  entriesEnd: number,
  vesselinfo: EndMarker['vesselinfo'],
  mtime: number,
): Uint8Array {
  return endMemberFor({
    tar: entriesEnd,
    gz: beforeLength,
    vesselinfo,
    mtime,
    prev: trailerText(previousMember),
  });
}

export function vesselinfoEntry(text: string, mtime: number): Uint8Array {
  const data = encoder.encode(text);
  return writeTarEntry(
    { name: VESSELINFO_PATH, mode: VESSELINFO_MODE, size: data.length, mtime, type: 'file' },
    data,
  );
}

/**
 * A customised installer's vesselinfo member: stored deflate blocks, as the zip path stores its
 * entry, so the output does not depend on the compressor's version.
 */
export function vesselinfoMember(entry: Uint8Array): Uint8Array {
  return writeStoredGzipMember(entry, markerSubfield('role=vesselinfo'));
}

/** Where an append-ready base is cut, as its end marker and a check of it give it. */
export interface SpliceCut {
  /** File offset of the cut: the base's vesselinfo member when it has one, else its end member. */
  cut: number;
  /** Tar offset of that cut. */
  cutTar: number;
  /** The marker's `mtime`, which the vesselinfo entry gets. */
  mtime: number;
}

/** The two members that follow the base's bytes up to the cut: the vesselinfo, then the end. */
export function spliceMembers(at: SpliceCut, vesselinfo: string): [Uint8Array, Uint8Array] {
  const entry = vesselinfoEntry(vesselinfo, at.mtime);
  const member = vesselinfoMember(entry);
  const end = writeEndMember(
    at.cut + member.length,
    member,
    at.cutTar + entry.length,
    at.cut,
    at.mtime,
  );
  return [member, end];
}
