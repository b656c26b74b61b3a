// This module loads only what splicing an already checked append-ready base needs; the walk,
// the compressor, the zip and exe code and Node's hashes are imported when a run needs them.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkSha256, normalizeSha256, resolveFormat } from '../../core/archive/format.ts';
import { spliceMembers, type SpliceCut } from '../../core/archive/tgz-marker.ts';
import { isPlatform, PLATFORMS, type ArchiveFormat, type Platform } from '../../core/platforms.ts';
import {
  deploymentBaseCheck,
  fileStamp,
  storedCheck,
  storeCheck,
  withStamp,
  type KeptCheck,
} from '../kept-checks.ts';
import { MANIFEST_FILE, parseManifest } from '../../core/manifest.ts';
import { CibError, errorsOf, problem, type Problem } from '../../core/problems.ts';
import type { KnownUpdateKey } from '../../core/deployment-settings.ts';
import type { SoftwareReport } from '../../core/software.ts';
import { renderVesselinfo } from '../../core/vesselinfo.ts';
import { KEY_OPTIONS_HELP, keyBitsOption, resolveConfigFile } from '../read-build-config.ts';
import {
  cliSettings,
  cliUpdateKeys,
  printProblems,
  printSoftware,
  readTextFile,
  settingsOptions,
  SETTINGS_HELP,
  UPDATE_KEY_HELP,
  updateKeyOptions,
} from '../cli-settings.ts';
import {
  forEachFilePiece,
  readFileHead,
  writeFileAtomic,
  writePiecesAtomic,
  writeStreamAtomic,
} from '../../host/files.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';
import { printErr } from '../output.ts';
import { firstTimeWork } from '../code-cache.ts';

/** Enough of the file to recognise gzip, zip and exe. */
const HEAD_BYTES = 8;

const help = `Usage: cib customize --base FILE --config FILE --out FILE [--platform P]
                     [--expect-sha256 HEX] [--keys-out DIR] [--bits N] [settings]

Writes the donor's custom installer: the base installer plus the vesselinfo for the build
configuration (the JSON of \`cib vesselinfo\`). Nothing but the vesselinfo changes in the base.

  --base FILE           the platform's base installer (.tgz, .zip or the GUI .exe)
  --config FILE         the build configuration (JSON)
  --out FILE            where to write the custom installer (written whole or not at all)
  --platform P          ${PLATFORMS.map((p) => p.platform).join(', ')}; checked against the base's format
  --expect-sha256 HEX   refuse the base unless its SHA-256 is HEX; without it, the SHA-256 that
                        manifest.json beside the base lists for it is used, when there is one
${KEY_OPTIONS_HELP}
${UPDATE_KEY_HELP}

The base's Seattle software is checked first, by Seattle's rules (README, "Software
verification"): a base whose signed metainfo fails, whose listed files differ, that carries
unsigned code, or that is signed by an update key this deployment does not trust is refused, even
when --expect-sha256 matches. The demo update key is trusted only when manifest.json beside the
base lists it and only demo-signed bases.
${SETTINGS_HELP}`;

function platformOption(value: string | undefined): Platform | undefined {
  if (value === undefined || isPlatform(value)) return value;
  throw new UsageError(
    `--platform must be one of ${PLATFORMS.map((p) => p.platform).join(', ')}, not "${value}".`,
  );
}

/** The base's problems named at the base file the person gave. */
function atBaseFile(error: unknown, baseFile: string): unknown {
  if (!(error instanceof CibError)) return error;
  return new CibError(
    error.problems.map((p) => ({
      ...p,
      path: p.path === 'base' ? baseFile : `${baseFile}: ${p.path}`,
    })),
  );
}

export const customizeCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      base: { type: 'string' },
      config: { type: 'string' },
      out: { type: 'string' },
      platform: { type: 'string' },
      'expect-sha256': { type: 'string' },
      'keys-out': { type: 'string' },
      bits: { type: 'string' },
      ...settingsOptions,
      ...updateKeyOptions,
    });
    const baseFile = requireOption(values.base, 'base');
    const configFile = requireOption(values.config, 'config');
    const out = requireOption(values.out, 'out');
    let platform = platformOption(values.platform);
    const settings = cliSettings(values);
    const keyBits = keyBitsOption(values.bits, settings);

    const head = readHead(baseFile);
    const check = baseCheck(baseFile, values['expect-sha256']);
    const expectSha256 = check.sha256;
    platform ??= check.platform;
    const knownKeys = cliUpdateKeys(values);
    const resolved = await resolveConfigFile(configFile, settings, {
      keysOut: values['keys-out'],
      keyBits,
    });
    if (!resolved) return 1;
    const vesselinfo = renderVesselinfo(resolved);

    let written: Written;
    let checked: string;
    try {
      const format = resolveFormat(head, platform);
      const base = await checkedBase(baseFile, format, expectSha256, knownKeys);
      checked = base.description;
      // Software failures are reported last, before the output is put in place, so a base that
      // is damaged says so first; a refused base leaves no output either way.
      const verdict = async () => {
        const errors = errorsOf(base.problems);
        if (errors.length > 0) throw new CibError(errors);
        printProblems(base.problems, baseFile);
        if (base.software) printSoftware(base.software, printErr);
      };
      // A tgz streams through in bounded memory; a zip is read whole (its directory is at the end).
      if (format === 'tgz') {
        written = await customizeTgzFile(baseFile, out, vesselinfo, base, verdict);
      } else {
        const { customizeInstaller } = await import('../../core/archive/installer.ts');
        const installer = await customizeInstaller({
          base: readFileSync(baseFile),
          vesselinfo,
          platform,
          ...(base.sha256 ? { expectSha256: base.sha256 } : {}),
        });
        await verdict();
        writeFileAtomic(out, installer);
        written = { size: installer.length };
      }
    } catch (error) {
      throw atBaseFile(error, baseFile);
    }
    const lines = [
      check.description,
      checked,
      written.note,
      `wrote ${out} (${written.size} bytes)`,
    ];
    printErr(lines.filter((line) => line !== undefined).join('\n'));
    return 0;
  },
};

/**
 * The SHA-256 the base must have: `--expect-sha256`, else the one `manifest.json` beside the base
 * lists for its file name (as make-base and prepare-base write it), else none, in which case the
 * engine checks the archive's own CRCs. `description` says which, for stderr.
 */
function baseCheck(
  baseFile: string,
  expected: string | undefined,
): { sha256?: string; platform?: Platform; description: string } {
  if (expected !== undefined) {
    return {
      sha256: normalizeSha256(expected),
      description: 'base check: its SHA-256 against --expect-sha256',
    };
  }
  const manifestFile = join(dirname(baseFile), MANIFEST_FILE);
  if (!existsSync(manifestFile)) {
    return {
      description: `base check: no ${MANIFEST_FILE} beside the base, so its SHA-256 is taken from a first read and checked again as it is copied`,
    };
  }
  const { manifest, problems } = parseManifest(readTextFile(manifestFile));
  if (!manifest) {
    throw new CibError(problems.map((p) => ({ ...p, path: `${manifestFile} ${p.path}` })));
  }
  const entry = manifest.bases.find((b) => b.file === basename(baseFile));
  if (!entry) {
    return {
      description: `base check: ${manifestFile} does not list ${basename(baseFile)}, so its SHA-256 is taken from a first read and checked again as it is copied`,
    };
  }
  return {
    sha256: entry.sha256,
    platform: entry.platform,
    description: `base check: its SHA-256 against ${manifestFile} (${entry.platform})`,
  };
}

/**
 * The base's checks (software, vesselinfo) and the SHA-256 the copied bytes must have: from the
 * check kept for the expected SHA-256, else from one walk of the file, which is then kept. An
 * ambiguous base is refused here; other refusals wait for `problems` to be reported.
 */
async function checkedBase(
  baseFile: string,
  format: ArchiveFormat,
  expectSha256: string | undefined,
  knownKeys: KnownUpdateKey[],
): Promise<CheckedBase> {
  if (format === 'exe') {
    return {
      ...(expectSha256 ? { sha256: expectSha256 } : {}),
      clean: false,
      problems: [],
      description: 'software check: not done (the GUI executable packs the program unread)',
    };
  }
  // Without an expected SHA-256, the file's own (read first, and checked again as the bytes are
  // copied) finds a kept check just as well.
  const sha256 = expectSha256 ?? (await (await import('../../host/hash.ts')).fileSha256(baseFile));
  const kept = storedCheck(sha256, knownKeys);
  if (kept) {
    return {
      sha256,
      ...(await deploymentBaseCheck(baseFile, sha256, knownKeys, kept.check)),
      ...(kept.cut ? { cut: kept.cut } : {}),
      ...(kept.stamps ? { stamps: kept.stamps } : {}),
      description: `software and vesselinfo check: kept from an earlier run for SHA-256 ${sha256}`,
      keep: (found) => storeCheck(sha256, knownKeys, keptWith(kept, found)),
    };
  }
  const { checkBaseFile } = await import('../base-walk.ts');
  firstTimeWork();
  const walked = await checkBaseFile(baseFile, knownKeys);
  checkSha256(walked.sha256, sha256);
  storeCheck(sha256, knownKeys, { check: walked.check });
  const check = await deploymentBaseCheck(baseFile, sha256, knownKeys, walked.check);
  const ambiguous = check.problems.filter((p) => p.code === 'base.vesselinfo.ambiguous');
  if (ambiguous.length > 0) throw new CibError(ambiguous);
  return {
    sha256,
    clean: check.clean,
    problems: check.problems,
    ...(check.software ? { software: check.software } : {}),
    description: 'software and vesselinfo check: walked the base',
    // Kept with the check once a copy of these very bytes has shown where they are cut; the check
    // as walked, since the deployment's trust is judged again on every run.
    keep: (found) => storeCheck(sha256, knownKeys, keptWith({ check: walked.check }, found)),
  };
}

/** A kept check with what a copy found: where the base is cut, and the stamp of its file. */
function keptWith(kept: KeptCheck, found: { cut: SpliceCut; stamp?: string }): KeptCheck {
  const stamps = found.stamp ? withStamp(kept.stamps, found.stamp) : kept.stamps;
  return { check: kept.check, cut: found.cut, ...(stamps ? { stamps } : {}) };
}

/** What customising needs to know of the base before it copies a byte. */
interface CheckedBase {
  /** The SHA-256 the copied bytes must have (none for an exe without one). */
  sha256?: string;
  /** No entry extracts to the vesselinfo: an append-ready base may be spliced. */
  clean: boolean;
  problems: Problem[];
  /** The software check's report, for its notes (files the updater fetches, unsigned scripts). */
  software?: SoftwareReport;
  description: string;
  /** Where an append-ready base is cut, kept from an earlier run. */
  cut?: SpliceCut;
  /** The stamps (kept-checks.ts, fileStamp) of files that held exactly the bytes of `sha256`. */
  stamps?: string[];
  /** Keeps the check with where the base is cut and, when given, the stamp of its file. */
  keep?: (found: { cut: SpliceCut; stamp?: string }) => void;
}

/** The first bytes of the base, enough to tell its format; a CibError naming the file otherwise. */
function readHead(file: string): Uint8Array {
  try {
    return readFileHead(file, HEAD_BYTES);
  } catch (error) {
    throw new CibError(
      problem(
        'cli.file.read',
        file,
        `Cannot read the base installer: ${(error as Error).message}.`,
      ),
    );
  }
}

/** What a copy wrote, and a line for stderr about how the base's bytes were checked. */
interface Written {
  size: number;
  note?: string;
}

/**
 * An append-ready base whose entries were checked (kept or walked) under `expectSha256`: its bytes
 * up to the cut are copied into the output piece by piece, then the new vesselinfo and end members
 * written. Every byte of the base is hashed on the way and the SHA-256 checked before the rename,
 * unless the file's stamp is one kept for these bytes (kept-checks.ts, fileStamp): then the stamp
 * is checked again after the copy instead, and a file that changed is refused. A stamp not kept
 * yet is kept once the hash matched and the stamp did not change during the copy. The cut comes
 * with a kept check; otherwise it is read from the base's tail (and kept), which the copy then
 * sees again, so it belongs to the very bytes whose SHA-256 is checked. Undefined for a tgz that
 * is not append-ready.
 */
async function spliceTgzFile(
  baseFile: string,
  out: string,
  vesselinfo: string,
  expectSha256: string,
  base: Pick<CheckedBase, 'cut' | 'stamps' | 'keep'>,
  beforeRename: () => Promise<void>,
): Promise<Written | undefined> {
  const stamp = fileStamp(baseFile);
  let at = base.cut;
  let tail: { bytes: Uint8Array; offset: number } | undefined;
  if (!at) {
    const { appendReadyTail } = await import('../base-walk.ts');
    const found = appendReadyTail(baseFile, stamp.size);
    if (!found) return undefined;
    at = found.cut;
    tail = found.tail;
  }
  const cut = at;
  const [member, end] = spliceMembers(cut, vesselinfo);
  const known = base.stamps?.includes(stamp.text) ?? false;
  // Node's hashes are loaded only to hash: loading them costs a short run more than its copy.
  const hash = known ? undefined : (await import('../../host/hash.ts')).sha256Pieces();
  let read = 0;
  let tailSeen = true;
  let keepStamp = false;
  const size = await writePiecesAtomic(
    out,
    (write) => {
      forEachFilePiece(baseFile, (piece, offset) => {
        hash?.update(piece);
        read += piece.length;
        if (offset < cut.cut) write(piece.subarray(0, cut.cut - offset));
        if (tail) tailSeen &&= sameRange(piece, offset, tail);
      });
      write(member);
      write(end);
    },
    async () => {
      const unchanged = fileStamp(baseFile).text === stamp.text;
      if (read !== stamp.size || !tailSeen || (known && !unchanged))
        throw new Error(`${baseFile} changed while it was read.`);
      if (hash) checkSha256(hash.digest(), expectSha256);
      keepStamp = !known && unchanged && stamp.settled;
      await beforeRename();
    },
  );
  if (tail || keepStamp) base.keep?.({ cut, ...(keepStamp ? { stamp: stamp.text } : {}) });
  if (!known) return { size };
  return {
    size,
    note: 'copy check: the file is unchanged since its SHA-256 was checked (same device, inode, size and times), so it was not hashed again',
  };
}

/** Whether `piece`, at file offset `offset`, agrees with `tail` where the two overlap. */
function sameRange(
  piece: Uint8Array,
  offset: number,
  tail: { bytes: Uint8Array; offset: number },
): boolean {
  const from = Math.max(offset, tail.offset);
  const to = Math.min(offset + piece.length, tail.offset + tail.bytes.length);
  for (let i = from; i < to; i++) {
    if (piece[i - offset] !== tail.bytes[i - tail.offset]) return false;
  }
  return true;
}

/**
 * Writes the customised tgz into `out`: an append-ready base already checked is spliced from the
 * file (spliceTgzFile); any other streams through the core's streaming customiser. The SHA-256 is
 * computed on the way and checked before the output is renamed into place, so a mismatching base
 * still leaves no output; with it checked, the append-ready path may skip its own CRC pass.
 */
async function customizeTgzFile(
  baseFile: string,
  out: string,
  vesselinfo: string,
  base: CheckedBase,
  beforeRename: () => Promise<void>,
): Promise<Written> {
  const expectSha256 = base.sha256;
  if (expectSha256 !== undefined && base.clean) {
    const spliced = await spliceTgzFile(
      baseFile,
      out,
      vesselinfo,
      expectSha256,
      base,
      beforeRename,
    );
    if (spliced) return spliced;
  }
  const [{ customizeTgzStream }, { sha256Through }, { Readable }, { createReadStream }] =
    await Promise.all([
      import('../../core/archive/tgz.ts'),
      import('../../host/hash.ts'),
      import('node:stream'),
      import('node:fs'),
    ]);
  const hashed = sha256Through(
    Readable.toWeb(createReadStream(baseFile)) as ReadableStream<Uint8Array>,
  );
  // The bytes were checked (or their check kept) under this SHA-256, verified again below before
  // the rename: the splice need not walk them again.
  const output = customizeTgzStream(hashed.stream, vesselinfo, {
    baseVerified: expectSha256 !== undefined,
    knownClean: expectSha256 !== undefined && base.clean,
  });
  const size = await writeStreamAtomic(out, output, async () => {
    if (expectSha256 !== undefined) checkSha256(hashed.digest(), expectSha256);
    await beforeRename();
  });
  return { size };
}
