/**
 * Builds the four base installers from a source tree (docs/formats.md#base-installers,
 * #signed-metainfo): `seattle_linux.tgz`, `seattle_mac.tgz`, `seattle_win.zip`,
 * `seattle_android.zip`, and the manifest that lists them.
 *
 * Source tree (paths relative to its root, `/` separators):
 *   seattle_repy/…                the program files, shared by every platform
 *   linux/… mac/… windows/… android/…   each platform's own scripts
 *
 * Every archive has the single top folder `seattle/`: the program files go to
 * `seattle/seattle_repy/` together with the signed `metainfo` and the software-update public key
 * (`softwareupdater.publickey`, docs/formats.md#base-installers); the
 * platform's own files go directly under `seattle/` (e.g. `seattle/install.sh`). No vesselinfo.
 *
 * With `layout: 'seattle'` the bases are laid out as Seattle's own packaging lays them out
 * (`make_base_installers.py`): a platform folder's `seattle_repy/` files (install.sh,
 * start_seattle.sh… or the .bat files) go into `seattle/seattle_repy/` after the metainfo is
 * signed, so they are not in the signed list, and its other files (the `install.sh` wrapper that
 * runs the one inside, README, LICENSE) directly under `seattle/`; `pyreadline/` is signed but left
 * out of the tgz and Android bases, as Seattle leaves it out (it is Windows-only).
 *
 * Reproducible by construction: entries are sorted by path (a directory sorts before its
 * contents), every entry gets the same mtime (the caller's timestamp), owner 0/0, and modes are
 * normalised to 0755 (any execute bit in the source) or 0644, because a git checkout keeps only
 * the execute bit and the umask decides the rest.
 */
import { zipSync, type ZipOptions, type Zippable } from 'fflate';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { buildMetainfo, METAINFO_FILE } from '../metainfo.ts';
import { isSeattleCode, readSoftwareUpdaterKey, SOFTWAREUPDATER_FILE } from '../software-rules.ts';
import {
  fingerprint,
  formatPublicKey,
  privateKeyMatches,
  type PrivateKey,
  type PublicKey,
} from '../keys.ts';
import { STANDARD_PLATFORMS, type StandardPlatform } from '../platforms.ts';
import { CibError, problem, type Problem } from '../problems.ts';
import { writeAppendReadyTgz } from './tgz.ts';
import {
  formatManifest,
  type BaseLayout,
  type BaseManifest,
  type BaseManifestEntry,
} from '../manifest.ts';

/** The platforms make-base builds: the standard ones of the platform table. */
export const BASE_PLATFORMS = STANDARD_PLATFORMS.map(({ platform, baseFile, format }) => ({
  platform,
  file: baseFile,
  format,
}));
export type BasePlatform = StandardPlatform;

/**
 * The archive's single top folder and the program folder inside it
 * (docs/formats.md#base-installers).
 */
export const TOP_DIR = 'seattle';
export const PROGRAM_DIR = 'seattle_repy';
/** Where make-base puts the software-update public key, inside `seattle_repy/`. */
export const UPDATE_KEY_FILE = 'softwareupdater.publickey';
/** Added by customisation only; a base never carries one (docs/formats.md#base-installers). */
const VESSELINFO_FILE = 'vesselinfo';
/** Written by make-base into `seattle_repy/`, so a source tree may not bring its own. */
const GENERATED_FILES = [METAINFO_FILE, UPDATE_KEY_FILE, VESSELINFO_FILE];

const MODE_EXECUTABLE = 0o755;
const MODE_REGULAR = 0o644;
const MODE_DIRECTORY = 0o755;
const ANY_EXECUTE_BIT = 0o111;

/** A file of the source tree. `mode` is its permission bits; only the execute bits count. */
export interface SourceFile {
  path: string;
  data: Uint8Array;
  mode: number;
}

export { formatManifest, type BaseLayout, type BaseManifest, type BaseManifestEntry };

/**
 * `cib`: each platform's files directly under `seattle/` (the demo bases); `seattle`: Seattle's
 * own packaging's layout (see above).
 */
export type BaseLayoutStyle = 'cib' | 'seattle';
export const BASE_LAYOUT_STYLES: readonly BaseLayoutStyle[] = ['cib', 'seattle'];

/** Seattle's packaging leaves this program folder out of the tgz and Android bases. */
const WINDOWS_ONLY_PREFIX = 'pyreadline/';

export interface MakeBasesOptions {
  files: readonly SourceFile[];
  /** Default `cib`. */
  layout?: BaseLayoutStyle;
  publicKey: PublicKey;
  privateKey: PrivateKey;
  /** Seconds since the epoch: the metainfo timestamp and every entry's mtime. */
  timestamp: number;
  /**
   * Metainfo expiration in seconds; defaults to timestamp + 30 days
   * (docs/formats.md#signed-metainfo).
   */
  expiration?: number;
  version: string;
}

export interface MadeBases {
  bases: { entry: BaseManifestEntry; bytes: Uint8Array }[];
  manifest: BaseManifest;
  metainfo: string;
}

/** One entry of the archive, in the shape the tgz writer takes. */
interface ArchiveEntry {
  path: string;
  data: Uint8Array;
  mode: number;
  mtime: number;
  type: 'file' | 'directory';
}

const EMPTY = new Uint8Array(0);

function normaliseMode(mode: number): number {
  return mode & ANY_EXECUTE_BIT ? MODE_EXECUTABLE : MODE_REGULAR;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks the source paths and splits them into program files and per-platform files. */
function splitSource(
  files: readonly SourceFile[],
  layout: BaseLayoutStyle,
): {
  program: SourceFile[];
  platforms: Map<BasePlatform, SourceFile[]>;
} {
  const problems: Problem[] = [];
  const program: SourceFile[] = [];
  const platforms = new Map<BasePlatform, SourceFile[]>(
    BASE_PLATFORMS.map((b) => [b.platform, []]),
  );
  const seen = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/');
    const [top, ...rest] = parts;
    const inner = rest.join('/');
    if (parts.some((part) => part === '' || part === '.' || part === '..') || rest.length === 0) {
      problems.push(
        problem(
          'makebase.source.path',
          file.path,
          'A source file needs a plain relative path inside a folder.',
        ),
      );
      continue;
    }
    if (seen.has(file.path)) {
      problems.push(
        problem('makebase.source.duplicate', file.path, 'This source file is given twice.'),
      );
      continue;
    }
    seen.add(file.path);
    if (top === PROGRAM_DIR) {
      if (GENERATED_FILES.includes(inner)) {
        problems.push(
          problem(
            'makebase.source.reserved',
            file.path,
            inner === VESSELINFO_FILE
              ? 'A base installer must not contain a vesselinfo; customisation adds it.'
              : `make-base writes seattle_repy/${inner} itself; remove it from the source tree.`,
          ),
        );
        continue;
      }
      program.push({ ...file, path: inner });
      continue;
    }
    const list = platforms.get(top as BasePlatform);
    if (!list) {
      problems.push(
        problem(
          'makebase.source.outside',
          file.path,
          `Source files belong in ${PROGRAM_DIR}/ or one of ${BASE_PLATFORMS.map((b) => b.platform + '/').join(', ')}.`,
        ),
      );
      continue;
    }
    if (rest[0] === PROGRAM_DIR && layout !== 'seattle') {
      problems.push(
        problem(
          'makebase.source.collision',
          file.path,
          `A platform's own files may not go inside ${PROGRAM_DIR}/; that folder is shared by every platform (--layout seattle puts them there, unsigned, as Seattle's packaging does).`,
        ),
      );
      continue;
    }
    if (rest[0] === PROGRAM_DIR && isSeattleCode(inner)) {
      problems.push(
        problem(
          'makebase.source.unsigned-code',
          file.path,
          `A platform's files in ${PROGRAM_DIR}/ are not signed, and the software check refuses unsigned code there; put program files in ${PROGRAM_DIR}/ of the source tree instead.`,
        ),
      );
      continue;
    }
    list.push({ ...file, path: inner });
  }
  const programPaths = new Set(
    [...program.map((f) => f.path), ...GENERATED_FILES].map((p) => p.toLowerCase()),
  );
  for (const [platform, list] of platforms) {
    for (const file of list) {
      const inside = file.path.startsWith(`${PROGRAM_DIR}/`)
        ? file.path.slice(PROGRAM_DIR.length + 1)
        : undefined;
      if (inside !== undefined && programPaths.has(inside.toLowerCase())) {
        problems.push(
          problem(
            'makebase.source.collision',
            `${platform}/${file.path}`,
            `The program in ${PROGRAM_DIR}/ already has ${inside}; a platform's file may not replace a signed one.`,
          ),
        );
      }
    }
  }
  if (program.length === 0) {
    problems.push(
      problem(
        'makebase.source.empty',
        PROGRAM_DIR,
        `The source tree has no program files in ${PROGRAM_DIR}/.`,
      ),
    );
  }
  for (const [platform, list] of platforms) {
    if (list.length === 0) {
      problems.push(
        problem(
          'makebase.source.empty',
          platform,
          `The source tree has no files for ${platform} in ${platform}/.`,
        ),
      );
    }
  }
  if (problems.length > 0) throw new CibError(problems);
  return { program, platforms };
}

/** Files (paths under `seattle/`) plus every directory above them, sorted, all with one mtime. */
function archiveEntries(files: readonly SourceFile[], mtime: number): ArchiveEntry[] {
  const directories = new Set<string>([`${TOP_DIR}/`]);
  const entries: ArchiveEntry[] = [];
  for (const file of files) {
    const path = `${TOP_DIR}/${file.path}`;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) directories.add(parts.slice(0, i).join('/') + '/');
    entries.push({ path, data: file.data, mode: normaliseMode(file.mode), mtime, type: 'file' });
  }
  for (const path of directories) {
    entries.push({ path, data: EMPTY, mode: MODE_DIRECTORY, mtime, type: 'directory' });
  }
  // A directory's "name/" sorts before everything inside it, so parents come first.
  return entries.sort((a, b) => compareText(a.path, b.path));
}

/** APPNOTE 4.4.2.2: "version made by" host 3 is Unix, so the external attributes carry modes. */
const ZIP_HOST_UNIX = 3;
/** Unix file-type bits in the high half of the external attributes. */
const UNIX_TYPE_FILE = 0o100000;
const UNIX_TYPE_DIRECTORY = 0o040000;
/** MS-DOS attribute bit for a directory, in the low byte of the external attributes. */
const DOS_DIRECTORY = 0x10;
/** Info-ZIP "extended timestamp" extra field (APPNOTE 4.6.7 / Info-ZIP extra.fld): flag + mtime. */
const EXTRA_UNIX_TIME = 0x5455;
const EXTRA_UNIX_TIME_HAS_MTIME = 1;
const DEFLATE_LEVEL = 6;

function unixTimeExtra(mtime: number): Uint8Array {
  const field = new Uint8Array(5);
  field[0] = EXTRA_UNIX_TIME_HAS_MTIME;
  new DataView(field.buffer).setUint32(1, mtime, true);
  return field;
}

/**
 * fflate writes the DOS date/time from a Date's *local* fields; handing it a Date whose local
 * fields equal the UTC fields of `mtime` makes the bytes the same in every time zone (except a
 * wall-clock time that falls in the local zone's daylight-saving gap, which is why the demo bases
 * use noon UTC). The Info-ZIP extended-timestamp field carries the exact Unix mtime besides.
 */
function dosTimeDate(mtime: number): Date {
  const utc = new Date(mtime * 1000);
  return new Date(
    utc.getUTCFullYear(),
    utc.getUTCMonth(),
    utc.getUTCDate(),
    utc.getUTCHours(),
    utc.getUTCMinutes(),
    utc.getUTCSeconds(),
  );
}

function writeZip(entries: readonly ArchiveEntry[]): Uint8Array {
  const zippable: Zippable = {};
  for (const entry of entries) {
    const isDirectory = entry.type === 'directory';
    const typeBits = isDirectory ? UNIX_TYPE_DIRECTORY : UNIX_TYPE_FILE;
    const options: ZipOptions = {
      // Stored for directories and empty files: deflating nothing only adds bytes.
      level: isDirectory || entry.data.length === 0 ? 0 : DEFLATE_LEVEL,
      os: ZIP_HOST_UNIX,
      attrs: (((typeBits | entry.mode) << 16) | (isDirectory ? DOS_DIRECTORY : 0)) >>> 0,
      mtime: dosTimeDate(entry.mtime),
      extra: { [EXTRA_UNIX_TIME]: unixTimeExtra(entry.mtime) },
    };
    zippable[entry.path] = [entry.data, options];
  }
  return zipSync(zippable);
}

/**
 * Where the program carries Seattle's `softwareupdater.py`, the key it embeds is the one every
 * installed node trusts for updates; the bases must be signed by that key, as Seattle's own
 * build scripts insist (docs/keys.md).
 */
function checkUpdaterKey(program: readonly SourceFile[], publicKey: PublicKey): void {
  const updater = program.find((f) => f.path === SOFTWAREUPDATER_FILE);
  if (!updater) return;
  const where = `${PROGRAM_DIR}/${SOFTWAREUPDATER_FILE}`;
  const { key, problems } = readSoftwareUpdaterKey(
    new TextDecoder('latin1').decode(updater.data),
    where,
  );
  if (!key)
    throw new CibError(problems.map((p) => ({ ...p, code: 'makebase.update-key.unreadable' })));
  if (key !== formatPublicKey(publicKey)) {
    throw new CibError(
      problem(
        'makebase.update-key.mismatch',
        where,
        `softwareupdatepublickey in softwareupdater.py is ${fingerprint(key)}, not the --pubkey key ${fingerprint(publicKey)}: every installed node would trust that key for updates. Write the --pubkey key there (softwareupdatepublickey = {'e':…, 'n':…}) or sign with the key it names.`,
      ),
    );
  }
}

/**
 * Builds the four base installers and their manifest. Throws CibError (codes `makebase.*`,
 * `metainfo.*`) for a source tree that breaks the layout rules or a private key that does not
 * belong to the public key.
 */
export function makeBases(options: MakeBasesOptions): MadeBases {
  if (!privateKeyMatches(options.publicKey, options.privateKey)) {
    throw new CibError(
      problem(
        'makebase.key.mismatch',
        'privateKey',
        'The software-update private key does not belong to the public key.',
      ),
    );
  }
  if (
    !Number.isSafeInteger(options.timestamp) ||
    options.timestamp < 0 ||
    options.timestamp >= 2 ** 32
  ) {
    throw new CibError(
      problem(
        'makebase.timestamp',
        'timestamp',
        'The timestamp must be whole seconds from 1970 to 2106.',
      ),
    );
  }
  const layout = options.layout ?? 'cib';
  const { program, platforms } = splitSource(options.files, layout);
  checkUpdaterKey(program, options.publicKey);
  const updateKey: SourceFile = {
    path: UPDATE_KEY_FILE,
    data: new TextEncoder().encode(formatPublicKey(options.publicKey)),
    mode: MODE_REGULAR,
  };
  const metainfo = buildMetainfo(
    [...program, updateKey],
    { publicKey: options.publicKey, privateKey: options.privateKey },
    options.timestamp,
    options.expiration,
  );
  const metainfoFile: SourceFile = {
    path: METAINFO_FILE,
    data: new TextEncoder().encode(metainfo),
    mode: MODE_REGULAR,
  };
  const programUnderTop = [...program, updateKey, metainfoFile].map((f) => ({
    ...f,
    path: `${PROGRAM_DIR}/${f.path}`,
  }));

  const bases = BASE_PLATFORMS.map(({ platform, file, format }) => {
    // Seattle's packaging signs pyreadline/ but ships it in the Windows base only.
    const shipped =
      layout === 'seattle' && (format === 'tgz' || platform === 'android')
        ? programUnderTop.filter((f) => !f.path.startsWith(`${PROGRAM_DIR}/${WINDOWS_ONLY_PREFIX}`))
        : programUnderTop;
    const entries = archiveEntries(
      [...shipped, ...(platforms.get(platform) ?? [])],
      options.timestamp,
    );
    const bytes = format === 'tgz' ? writeAppendReadyTgz(entries) : writeZip(entries);
    const entry: BaseManifestEntry = {
      platform,
      file,
      size: bytes.length,
      sha256: bytesToHex(sha256(bytes)),
      layout: format === 'tgz' ? 'append-ready' : 'plain',
      version: options.version,
    };
    return { entry, bytes };
  });
  return {
    bases,
    manifest: {
      version: options.version,
      updateKeyFingerprint: fingerprint(options.publicKey),
      bases: bases.map((b) => b.entry),
    },
    metainfo,
  };
}
