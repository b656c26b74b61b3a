/**
 * What a base installer is, from its first bytes, and whether it is the one expected: the checks
 * every customisation starts with, in a module of their own so a command that only splices a
 * checked base loads nothing more.
 */
import { CibError, problem } from '../problems.ts';
import type { ArchiveFormat, Platform } from '../platforms.ts';
import { platformInfoOf } from '../platforms.ts';

// Magic numbers: gzip RFC 1952 §2.3.1 (ID1 ID2), zip APPNOTE 4.3.7 (local file header) and
// 4.3.16 (end of central directory, an empty zip), PE/COFF's DOS header "MZ".
const GZIP_MAGIC = [0x1f, 0x8b];
const ZIP_LOCAL_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY_MAGIC = [0x50, 0x4b, 0x05, 0x06];
const EXE_MAGIC = [0x4d, 0x5a];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** The archive kind, from the first bytes alone; undefined for anything else. */
export function detectFormat(bytes: Uint8Array): ArchiveFormat | undefined {
  if (startsWith(bytes, GZIP_MAGIC)) return 'tgz';
  if (startsWith(bytes, ZIP_LOCAL_MAGIC) || startsWith(bytes, ZIP_EMPTY_MAGIC)) return 'zip';
  if (startsWith(bytes, EXE_MAGIC)) return 'exe';
  return undefined;
}

/**
 * The format the base must be, from the platform and the bytes; a clear error when they disagree.
 */
export function resolveFormat(
  base: Uint8Array,
  platform?: Platform,
  format?: ArchiveFormat,
): ArchiveFormat {
  const detected = detectFormat(base);
  const wanted = format ?? (platform ? platformInfoOf(platform)?.format : undefined);
  if (!detected) {
    throw new CibError(
      problem(
        'base.format.unknown',
        'base',
        base.length === 0
          ? 'The base installer is empty.'
          : 'The base installer is not a gzip-compressed tar, a zip or a Windows executable.',
      ),
    );
  }
  if (wanted && wanted !== detected) {
    throw new CibError(
      problem(
        'base.format.mismatch',
        'base',
        `The base installer is a ${detected} file, but ${platform ? `the ${platform} platform` : 'the caller'} needs a ${wanted}.`,
      ),
    );
  }
  return detected;
}

/** The expected SHA-256 as 64 lowercase hex digits; a clear error for anything else. */
export function normalizeSha256(expected: string): string {
  const want = expected.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) {
    throw new CibError(
      problem(
        'base.sha256.malformed',
        'expectSha256',
        'The expected SHA-256 must be 64 hex digits.',
      ),
    );
  }
  return want;
}

/** Refuses a base whose SHA-256 (`actual`, in hex) is not the expected one. */
export function checkSha256(actual: string, expected: string): void {
  const want = normalizeSha256(expected);
  if (actual !== want) {
    throw new CibError(
      problem(
        'base.sha256.mismatch',
        'base',
        `The base installer's SHA-256 is ${actual}, not the expected ${want}: it is damaged or not the published base.`,
      ),
    );
  }
}
