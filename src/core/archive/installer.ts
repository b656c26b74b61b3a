/**
 * The installer engine's front door: one call to customise any platform's base installer and one
 * to inspect any installer, the same in the page, the worker, the command line and the server.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { fingerprint } from '../keys.ts';
import { CibError, errorsOf, problem, type Problem } from '../problems.ts';
import { nodeVessels, parseVesselinfo } from '../vesselinfo.ts';
import { checkExecutable, customizeExe, readExeVesselinfo } from './exe.ts';
import { isProfileProblem } from './profile.ts';
import { concatBytes } from '../bytes.ts';
import { customizeTgzParts } from './tgz.ts';
import { VESSELINFO_PATH, VesselinfoFinder } from './vesselinfo-entries.ts';
import { bytesSource, walkEntries, walkZip, type InstallerSource } from './walk.ts';
import { customizeZipParts } from './zip.ts';

export type { InstallerSource } from './walk.ts';
import { checkSha256, normalizeSha256, resolveFormat } from './format.ts';
export { checkSha256, detectFormat, normalizeSha256, resolveFormat } from './format.ts';
import type { ArchiveFormat, Platform } from '../platforms.ts';

export {
  isPlatform,
  platformInfoOf,
  PLATFORMS,
  type ArchiveFormat,
  type Platform,
  type PlatformInfo,
} from '../platforms.ts';

/** SHA-256 in hex: the platform's native digest where there is one, @noble/hashes elsewhere. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (subtle) {
    return bytesToHex(
      new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)),
    );
  }
  return bytesToHex(sha256(bytes));
}

export interface CustomizeOptions {
  base: Uint8Array;
  vesselinfo: string;
  platform?: Platform;
  /** Overrides detection; must agree with the bytes. */
  format?: ArchiveFormat;
  /** From the manifest: the base is refused, with no output, unless its SHA-256 matches. */
  expectSha256?: string;
  /**
   * The base's SHA-256 in hex when the caller already computed it (e.g. while the bytes arrived);
   * compared with `expectSha256` instead of hashing the base again.
   */
  sha256?: string;
  /**
   * The caller's `checkBase` walked these very bytes (the SHA-256 above) and found no vesselinfo
   * entry: the tgz splice skips its own walk of the entry names.
   */
  knownClean?: boolean;
}

/** Refuses a base whose SHA-256 is not the expected one, before any work is done on it. */
export async function verifySha256(base: Uint8Array, expected: string): Promise<void> {
  normalizeSha256(expected);
  checkSha256(await sha256Hex(base), expected);
}

/**
 * Returns the custom installer: the base plus `seattle/seattle_repy/vesselinfo`
 * (docs/formats.md#base-installers), or for the GUI exe the base plus `START:` and the text. Throws
 * CibError (`base.*`) and returns nothing when the base is damaged, of the wrong kind or not the
 * expected one.
 */
export async function customizeInstaller(options: CustomizeOptions): Promise<Uint8Array> {
  return concatBytes(await customizeInstallerParts(options));
}

/**
 * customizeInstaller as the consecutive pieces of the output, some of them views into `base`, so
 * a caller can hand them to `new Blob(parts)` without one more pass over the bytes.
 */
export async function customizeInstallerParts(options: CustomizeOptions): Promise<Uint8Array[]> {
  const { base, vesselinfo } = options;
  const format = resolveFormat(base, options.platform, options.format);
  if (options.expectSha256 !== undefined) {
    if (options.sha256 === undefined) await verifySha256(base, options.expectSha256);
    else checkSha256(options.sha256.toLowerCase(), options.expectSha256);
  }
  const baseVerified = options.expectSha256 !== undefined;
  switch (format) {
    case 'tgz':
      return customizeTgzParts(base, vesselinfo, {
        baseVerified,
        knownClean: options.knownClean === true,
      });
    case 'zip': {
      // Names come from the central directory: checking them costs no inflating.
      const finder = new VesselinfoFinder(false);
      walkZip(base, finder);
      finder.assertUnambiguous();
      return customizeZipParts(base, vesselinfo, { verifyData: !baseVerified });
    }
    case 'exe':
      return [customizeExe(base, vesselinfo)];
  }
}

export interface InspectedVessel {
  name: string;
  percent: number;
  owner: string;
  users: string[];
  ports: [first: number, last: number];
  ownerFingerprint: string;
  userFingerprints: string[];
}

export interface Inspection {
  format: ArchiveFormat;
  vesselinfo?: string;
  vessels: InspectedVessel[];
  /** Whether the node-side installer would accept this installer's vesselinfo. */
  valid: boolean;
  /**
   * The archive is outside the strict profile (docs/formats.md, "Strict archive profile"), or more
   * than one entry extracts to the vesselinfo, or one is not a regular file: what the node reads
   * cannot be told, so nothing is shown but the problems, each naming an entry and a rule.
   */
  ambiguous: boolean;
  problems: Problem[];
}

const ASCII_TEXT = /^[\x20-\x7e\n\r\t]*$/;

/** Enough of the file to recognise gzip, zip and exe. */
const HEAD_BYTES = 8;

/**
 * What an installer will do on the donor's machine, and every problem the node would find. A tgz
 * is streamed from `input` and its walk capped (walk.ts); an installer with more than one entry
 * extracting to the vesselinfo, or one that is not a regular file, is refused by name.
 */
export async function inspectInstaller(input: Uint8Array | InstallerSource): Promise<Inspection> {
  const source = input instanceof Uint8Array ? bytesSource(input) : input;
  const format = resolveFormat(await source.head(HEAD_BYTES));
  let raw: Uint8Array | string | undefined;
  try {
    if (format === 'exe') {
      const bytes = await source.bytes();
      checkExecutable(bytes);
      raw = readExeVesselinfo(bytes);
    } else {
      const finder = new VesselinfoFinder(true);
      await walkEntries(source, finder);
      if (finder.ambiguous) {
        return { format, vessels: [], valid: false, ambiguous: true, problems: finder.problems() };
      }
      raw = finder.data ?? (finder.matches.length ? new Uint8Array(0) : undefined);
    }
  } catch (error) {
    // Outside the strict profile: what an extractor leaves cannot be told, as with two vesselinfos.
    if (error instanceof CibError)
      return {
        format,
        vessels: [],
        valid: false,
        ambiguous: error.problems.some(isProfileProblem),
        problems: error.problems,
      };
    throw error;
  }
  if (raw === undefined) {
    return {
      format,
      vessels: [],
      valid: false,
      ambiguous: false,
      problems: [
        problem(
          'inspect.vesselinfo.missing',
          format === 'exe' ? 'START:' : VESSELINFO_PATH,
          format === 'exe'
            ? 'The executable carries no vesselinfo (no START: block): it is a base installer, not a custom one.'
            : 'The archive has no vesselinfo: it is a base installer, not a custom one.',
        ),
      ],
    };
  }
  const text = typeof raw === 'string' ? raw : new TextDecoder('latin1').decode(raw);
  const problems: Problem[] = [];
  if (!ASCII_TEXT.test(text)) {
    problems.push(
      problem(
        'inspect.vesselinfo.not-ascii',
        VESSELINFO_PATH,
        'The vesselinfo is not plain ASCII text.',
      ),
    );
  }
  const parsed = parseVesselinfo(text);
  problems.push(...parsed.problems);
  const vessels = nodeVessels(parsed.vessels).map((v) => ({
    name: v.name,
    percent: v.percent,
    owner: v.owner,
    users: v.users,
    ports: v.ports,
    ownerFingerprint: fingerprint(v.owner),
    userFingerprints: v.users.map((u) => fingerprint(u)),
  }));
  return {
    format,
    vesselinfo: text,
    vessels,
    valid: errorsOf(problems).length === 0,
    ambiguous: false,
    problems,
  };
}
