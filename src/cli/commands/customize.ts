import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  checkSha256,
  customizeInstaller,
  isPlatform,
  normalizeSha256,
  PLATFORMS,
  resolveFormat,
  type ArchiveFormat,
  type Platform,
} from '../../core/archive/index.ts';
import { customizeTgzStream } from '../../core/archive/tgz.ts';
import { checkBaseFile, deploymentBaseCheck, storedCheck, storeCheck } from '../base-checks.ts';
import { MANIFEST_FILE, parseManifest } from '../../core/manifest.ts';
import { CibError, errorsOf, problem, type Problem } from '../../core/problems.ts';
import type { KnownUpdateKey } from '../../core/settings.ts';
import type { SoftwareReport } from '../../core/software.ts';
import { renderVesselinfo } from '../../core/vesselinfo.ts';
import { KEY_OPTIONS_HELP, keyBitsOption, resolveConfigFile } from '../build-config.ts';
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
} from '../settings.ts';
import { readFileHead, writeFileAtomic, writeStreamAtomic } from '../../node/files.ts';
import { fileSha256, sha256Through } from '../../node/hash.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

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
    let platform: Platform | undefined;
    if (values.platform !== undefined) {
      if (!isPlatform(values.platform)) {
        throw new UsageError(
          `--platform must be one of ${PLATFORMS.map((p) => p.platform).join(', ')}, not "${values.platform}".`,
        );
      }
      platform = values.platform;
    }
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

    let size: number;
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
        if (base.software) printSoftware(base.software, console.error);
      };
      // A tgz streams through in bounded memory; a zip is read whole (its directory is at the end).
      if (format === 'tgz') {
        size = await customizeTgzFile(baseFile, out, vesselinfo, base, verdict);
      } else {
        const installer = await customizeInstaller({
          base: readFileSync(baseFile),
          vesselinfo,
          platform,
          ...(base.sha256 ? { expectSha256: base.sha256 } : {}),
        });
        await verdict();
        writeFileAtomic(out, installer);
        size = installer.length;
      }
    } catch (error) {
      if (error instanceof CibError) {
        throw new CibError(
          error.problems.map((p) => ({
            ...p,
            path: p.path === 'base' ? baseFile : `${baseFile}: ${p.path}`,
          })),
        );
      }
      throw error;
    }
    console.error(`${check.description}\n${checked}\nwrote ${out} (${size} bytes)`);
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
): Promise<{
  sha256?: string;
  clean: boolean;
  problems: Problem[];
  software?: SoftwareReport;
  description: string;
}> {
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
  const sha256 = expectSha256 ?? (await fileSha256(baseFile));
  const kept = storedCheck(sha256, knownKeys);
  if (kept) {
    return {
      sha256,
      ...(await deploymentBaseCheck(baseFile, sha256, knownKeys, kept)),
      description: `software and vesselinfo check: kept from an earlier run for SHA-256 ${sha256}`,
    };
  }
  const walked = await checkBaseFile(baseFile, knownKeys);
  checkSha256(walked.sha256, sha256);
  storeCheck(sha256, knownKeys, walked.check);
  const check = await deploymentBaseCheck(baseFile, sha256, knownKeys, walked.check);
  const ambiguous = check.problems.filter((p) => p.code === 'base.vesselinfo.ambiguous');
  if (ambiguous.length > 0) throw new CibError(ambiguous);
  return {
    sha256,
    clean: check.clean,
    problems: check.problems,
    ...(check.software ? { software: check.software } : {}),
    description: 'software and vesselinfo check: walked the base',
  };
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

/**
 * Streams a tgz base through the core's streaming customiser into `out`. The SHA-256 is computed
 * on the way and checked before the output is renamed into place, so a mismatching base still
 * leaves no output; with it checked, the append-ready path may skip its own CRC pass.
 */
async function customizeTgzFile(
  baseFile: string,
  out: string,
  vesselinfo: string,
  base: { sha256?: string; clean: boolean },
  beforeRename: () => Promise<void>,
): Promise<number> {
  const expectSha256 = base.sha256;
  const hashed = sha256Through(
    Readable.toWeb(createReadStream(baseFile)) as ReadableStream<Uint8Array>,
  );
  // The bytes were checked (or their check kept) under this SHA-256, verified again below before
  // the rename: the splice need not walk them again.
  const output = customizeTgzStream(hashed.stream, vesselinfo, {
    baseVerified: expectSha256 !== undefined,
    knownClean: expectSha256 !== undefined && base.clean,
  });
  return writeStreamAtomic(out, output, async () => {
    if (expectSha256 !== undefined) checkSha256(hashed.digest(), expectSha256);
    await beforeRename();
  });
}
