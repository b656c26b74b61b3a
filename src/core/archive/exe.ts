/**
 * The Windows GUI installer (docs/formats.md#base-installers): a self-extracting executable whose
 * custom data is appended to its end as the bytes `START:` followed by the vesselinfo. At install
 * time a helper scans the file backwards for the LAST `START:` and writes everything after it to
 * `vesselinfo`.
 */
import { lastIndexOfBytes, read16, read32 } from '../bytes.ts';
import { CibError, problem } from '../problems.ts';
import { MAX_VESSELINFO_BYTES } from '../vesselinfo.ts';
import { PROFILE_SECTION, profileError } from './profile.ts';
import { holdsZipArchive } from './zip.ts';

export const EXE_MARKER = 'START:';
const MARKER = new TextEncoder().encode(EXE_MARKER);

// Microsoft PE/COFF specification: the DOS header's "MZ", e_lfanew at 0x3C pointing at "PE\0\0",
// then the COFF file header and the section table.
const DOS_SIGNATURE = 0x5a4d; // "MZ"
const DOS_PE_OFFSET = 0x3c;
const PE_SIGNATURE = 0x00004550; // "PE\0\0"
const COFF_HEADER_AT = 4; // after the PE signature
const COFF_SECTION_COUNT = 2;
const COFF_OPTIONAL_HEADER_SIZE = 16;
const COFF_HEADER_LENGTH = 20;
const SECTION_HEADER_LENGTH = 40;
const SECTION_RAW_SIZE = 16;
const SECTION_RAW_POINTER = 20;

/**
 * One vesselinfo statement (docs/formats.md#vesselinfo). A block after the last `START:` counts as
 * one this tool appended only if every line is such a statement: a helper string "START:" inside
 * the program or binary overlay data never looks like that.
 */
const VESSELINFO_LINE = /^(Percent [0-9]+|Owner [0-9]+ [0-9]+|User [0-9]+ [0-9]+)$/;

/** The helper's scan: the position of the last `START:`, or -1. */
function lastMarker(bytes: Uint8Array): number {
  return lastIndexOfBytes(bytes, MARKER);
}

/** What the install-time helper would write to `vesselinfo`, or undefined without a `START:`. */
export function readExeVesselinfo(bytes: Uint8Array): string | undefined {
  const at = lastMarker(bytes);
  return at < 0 ? undefined : new TextDecoder().decode(bytes.subarray(at + MARKER.length));
}

/** The block this tool appended earlier: its `START:` position and text, if the file has one. */
export function findAppendedVesselinfo(
  bytes: Uint8Array,
): { markerAt: number; vesselinfo: string } | undefined {
  const markerAt = lastMarker(bytes);
  if (markerAt < 0 || bytes.length - markerAt - MARKER.length > MAX_VESSELINFO_BYTES) return;
  const tail = bytes.subarray(markerAt + MARKER.length);
  if (!tail.every((b) => b === 0x0a || (b >= 0x20 && b < 0x7f))) return undefined;
  const vesselinfo = new TextDecoder().decode(tail);
  const lines = vesselinfo.endsWith('\n')
    ? vesselinfo.slice(0, -1).split('\n')
    : vesselinfo.split('\n');
  if (!lines[0]?.startsWith('Percent ') || !lines.every((line) => VESSELINFO_LINE.test(line))) {
    return undefined;
  }
  return { markerAt, vesselinfo };
}

/**
 * The profile of the GUI executable (docs/formats.md, "Strict archive profile"): a Windows PE
 * program ("MZ", a PE header, every section's raw data inside the file: a truncated download fails
 * here), then whatever the installer packs, then at most the `START:` block Seattle's helper
 * reads. A file that is also a zip is refused: unzip and 7-Zip would extract the zip inside it,
 * while the helper reads only what follows the last `START:`, and nothing checks that software.
 */
export function checkExecutable(bytes: Uint8Array): void {
  if (bytes.length < 2 || read16(bytes, 0) !== DOS_SIGNATURE) {
    throw new CibError(
      problem(
        'base.exe.not-executable',
        '',
        'The base does not start with "MZ": it is not a Windows executable.',
      ),
    );
  }
  const peAt = bytes.length >= DOS_PE_OFFSET + 4 ? read32(bytes, DOS_PE_OFFSET) : -1;
  if (
    peAt < 0 ||
    peAt + COFF_HEADER_AT + COFF_HEADER_LENGTH > bytes.length ||
    read32(bytes, peAt) !== PE_SIGNATURE
  ) {
    throw profileError(
      'exe',
      'MZ header',
      `The file starts with "MZ" but has no PE header: it is not a Windows program, only a stub in front of something else (${PROFILE_SECTION}).`,
    );
  }
  const coffAt = peAt + COFF_HEADER_AT;
  const sections = read16(bytes, coffAt + COFF_SECTION_COUNT);
  const tableAt = coffAt + COFF_HEADER_LENGTH + read16(bytes, coffAt + COFF_OPTIONAL_HEADER_SIZE);
  const truncated = (): CibError =>
    new CibError(
      problem(
        'base.exe.truncated',
        '',
        "The executable's sections run past the end of the file: it is truncated.",
      ),
    );
  if (tableAt + sections * SECTION_HEADER_LENGTH > bytes.length) throw truncated();
  for (let i = 0; i < sections; i++) {
    const section = tableAt + i * SECTION_HEADER_LENGTH;
    const rawAt = read32(bytes, section + SECTION_RAW_POINTER);
    const rawSize = read32(bytes, section + SECTION_RAW_SIZE);
    if (rawSize && rawAt + rawSize > bytes.length) throw truncated();
  }
  if (holdsZipArchive(bytes)) {
    throw profileError(
      'exe-zip',
      'zip end record',
      'The executable is also a zip archive: unzip and 7-Zip would extract files from it that ' +
        `Seattle's installer never checks, while the installer reads only its START: block (${PROFILE_SECTION}).`,
    );
  }
}

/**
 * Appends `START:` + vesselinfo. A block this tool appended before (see findAppendedVesselinfo) is
 * replaced, so the helper's backward scan finds exactly the new vesselinfo.
 */
export function customizeExe(base: Uint8Array, vesselinfo: string): Uint8Array {
  checkExecutable(base);
  const text = new TextEncoder().encode(vesselinfo);
  if (vesselinfo.includes(EXE_MARKER)) {
    throw new CibError(
      problem(
        'vesselinfo.exe-marker',
        '',
        `The vesselinfo contains "${EXE_MARKER}", which the installer would cut at.`,
      ),
    );
  }
  const previous = findAppendedVesselinfo(base);
  const keep = previous ? previous.markerAt : base.length;
  const out = new Uint8Array(keep + MARKER.length + text.length);
  out.set(base.subarray(0, keep), 0);
  out.set(MARKER, keep);
  out.set(text, keep + MARKER.length);
  return out;
}
