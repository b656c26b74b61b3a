import { createHash } from 'node:crypto';
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
  type Platform,
} from '../../core/archive/index.ts';
import { customizeTgzStream } from '../../core/archive/tgz.ts';
import { checkInstallerSoftware } from '../../core/archive/software-walk.ts';
import { MANIFEST_FILE, parseManifest } from '../../core/manifest.ts';
import { CibError, errorsOf, problem } from '../../core/problems.ts';
import { softwareBuildProblems, type KnownUpdateKey } from '../../core/software.ts';
import { renderVesselinfo } from '../../core/vesselinfo.ts';
import { KEY_OPTIONS_HELP, keyBitsOption, resolveConfigFile } from '../build-config.ts';
import {
  cliSettings,
  cliUpdateKeys,
  printProblems,
  readTextFile,
  settingsOptions,
  SETTINGS_HELP,
  UPDATE_KEY_HELP,
  updateKeyOptions,
} from '../settings.ts';
import { fileSource, readFileHead, writeFileAtomic, writeStreamAtomic } from '../../node/files.ts';
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

The base's Seattle software is checked first: a base whose signed metainfo fails, or whose files
differ from it, is refused (even when --expect-sha256 matches); one signed by an unknown update
key is customised with a warning.
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
    try {
      // The software check runs last, before the output is put in place, so a base that is
      // damaged or ambiguous says so first; a refused base leaves no output either way.
      const softwareChecked = () => checkBaseSoftware(baseFile, knownKeys);
      // A tgz streams through in bounded memory; a zip is read whole (its directory is at the end).
      if (resolveFormat(head, platform) === 'tgz') {
        size = await customizeTgzFile(baseFile, out, vesselinfo, expectSha256, softwareChecked);
      } else {
        const installer = await customizeInstaller({
          base: readFileSync(baseFile),
          vesselinfo,
          platform,
          expectSha256,
        });
        await softwareChecked();
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
    console.error(`${check.description}\nwrote ${out} (${size} bytes)`);
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
      description: `base check: no ${MANIFEST_FILE} beside the base, so every CRC of the archive is checked instead`,
    };
  }
  const { manifest, problems } = parseManifest(readTextFile(manifestFile));
  if (!manifest) {
    throw new CibError(problems.map((p) => ({ ...p, path: `${manifestFile} ${p.path}` })));
  }
  const entry = manifest.bases.find((b) => b.file === basename(baseFile));
  if (!entry) {
    return {
      description: `base check: ${manifestFile} does not list ${basename(baseFile)}, so every CRC of the archive is checked instead`,
    };
  }
  return {
    sha256: entry.sha256,
    platform: entry.platform,
    description: `base check: its SHA-256 against ${manifestFile} (${entry.platform})`,
  };
}

/** Refuses a base whose software is not what its update key signed; warns for an unknown key. */
async function checkBaseSoftware(baseFile: string, knownKeys: KnownUpdateKey[]): Promise<void> {
  const report = await checkInstallerSoftware(fileSource(baseFile), { knownKeys });
  if (!report) return;
  const problems = softwareBuildProblems(report, 'base');
  if (errorsOf(problems).length > 0) throw new CibError(problems);
  printProblems(problems, baseFile);
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
  expectSha256: string | undefined,
  beforeRename: () => Promise<void>,
): Promise<number> {
  const hash = createHash('sha256');
  const input = Readable.toWeb(createReadStream(baseFile)) as ReadableStream<Uint8Array>;
  const hashed = input.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  const output = customizeTgzStream(hashed, vesselinfo, {
    baseVerified: expectSha256 !== undefined,
  });
  return writeStreamAtomic(out, output, async () => {
    if (expectSha256 !== undefined) checkSha256(hash.digest('hex'), expectSha256);
    await beforeRename();
  });
}
