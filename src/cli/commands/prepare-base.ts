import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat } from '../../core/archive/index.ts';
import {
  isAppendReady,
  makeAppendReady,
  readTgzEntries,
  type TgzEntry,
} from '../../core/archive/tgz.ts';
import {
  formatManifest,
  MANIFEST_FILE,
  parseManifest,
  type BaseLayout,
  type BaseManifestEntry,
} from '../../core/manifest.ts';
import { checkInstallerSoftware } from '../../core/archive/base-check.ts';
import { checkExecutable } from '../../core/archive/exe.ts';
import { listZipEntries } from '../../core/archive/zip.ts';
import { PLATFORMS, type PlatformInfo } from '../../core/platforms.ts';
import type { KnownUpdateKey } from '../../core/settings.ts';
import { CibError, problem } from '../../core/problems.ts';
import { writeFileAtomic } from '../../node/files.ts';
import { sha256Hex } from '../../node/hash.ts';
import { cliUpdateKeys, printSoftware, UPDATE_KEY_HELP, updateKeyOptions } from '../settings.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const help = `Usage: cib prepare-base FILE --out FILE [--update-key FILE]...
       cib prepare-base DIR --out DIR [--version V] [--update-key FILE]...

Rewrites a gzip-compressed tar base installer (for example one built with the old packaging
scripts, Python's tarfile or GNU tar) into the append-ready layout, which lets customisation copy
the base's bytes instead of recompressing them. The tar entries are kept byte for byte; only the
gzip framing and the end-of-archive padding change.

The result is re-read and every entry (name, type, mode, owner, mtime, size and bytes) is compared
with the input before the output is written; the output appears only when they are identical.

Given a folder, every base installer in it (${PLATFORMS.map((p) => p.baseFile).join(', ')}) is
prepared into the --out folder: tgz bases are made append-ready, zip and exe bases are copied
after their format is checked, and manifest.json (platform, file, size, SHA-256, layout, version)
is written last, so a folder of existing Seattle bases becomes a deployable one in one command.

Each base's software check is reported too (the signed metainfo against the program files), as
\`cib inspect\` does; builds refuse a base whose files differ or whose signature fails.

  --out FILE|DIR   where to write (each file replaced atomically; a folder is created if missing)
  --version V      the version recorded in manifest.json (folder mode; default: the input folder's
                   manifest.json version, else none)
${UPDATE_KEY_HELP}`;

/** The fields of an entry that must survive the rewrite unchanged. */
function differences(before: TgzEntry[], after: TgzEntry[]): string | undefined {
  if (before.length !== after.length) return `${before.length} entries became ${after.length}`;
  for (let i = 0; i < before.length; i++) {
    const a = before[i]!;
    const b = after[i]!;
    for (const key of [
      'path',
      'type',
      'mode',
      'mtime',
      'uid',
      'gid',
      'uname',
      'gname',
      'size',
      'linkname',
    ] as const) {
      if (a[key] !== b[key]) return `${a.path}: ${key} changed`;
    }
    const x = a.data ?? new Uint8Array(0);
    const y = b.data ?? new Uint8Array(0);
    if (x.length !== y.length || x.some((byte, j) => byte !== y[j]))
      return `${a.path}: content changed`;
  }
  return undefined;
}

/** The bytes of `input` rewritten append-ready, verified entry by entry against the input. */
async function prepareTgz(input: string, base: Uint8Array) {
  const wasReady = isAppendReady(base);
  const prepared = makeAppendReady(base);
  const before = await readTgzEntries(base);
  const after = await readTgzEntries(prepared);
  const changed = differences(before, after);
  if (changed !== undefined || !isAppendReady(prepared)) {
    throw new CibError(
      problem(
        'base.prepare.verify',
        input,
        `The rewritten base does not match the input (${changed ?? 'layout not detected'}); nothing was written.`,
      ),
    );
  }
  return { prepared, wasReady, entries: after.length };
}

function readBase(input: string): Uint8Array {
  try {
    return readFileSync(input);
  } catch (error) {
    throw new CibError(
      problem('file.read', input, `Cannot read the file (${(error as Error).message}).`),
    );
  }
}

/** Every base of folder `dir` into folder `out`, then its manifest.json. */
async function prepareFolder(
  dir: string,
  out: string,
  version: string | undefined,
  knownKeys: KnownUpdateKey[],
) {
  const found = PLATFORMS.filter((p) => existsSync(join(dir, p.baseFile)));
  if (found.length === 0) {
    throw new CibError(
      problem(
        'base.prepare.none',
        dir,
        `The folder holds no base installer (looked for ${PLATFORMS.map((p) => p.baseFile).join(', ')}).`,
      ),
    );
  }
  if (version === undefined && existsSync(join(dir, MANIFEST_FILE))) {
    version = parseManifest(readFileSync(join(dir, MANIFEST_FILE), 'utf8')).manifest?.version;
  }
  // Every base is read and checked before anything is written, so a bad one leaves no output.
  const prepared: { info: PlatformInfo; bytes: Uint8Array; layout: BaseLayout; note: string }[] =
    [];
  for (const info of found) {
    const file = join(dir, info.baseFile);
    const bytes = readBase(file);
    const format = detectFormat(bytes);
    if (format !== info.format) {
      throw new CibError(
        problem(
          'base.format.mismatch',
          file,
          `The ${info.platform} base must be a ${info.format} file, but this is ${format ? `a ${format} file` : 'no archive this builder knows'}.`,
        ),
      );
    }
    if (format === 'tgz') {
      const result = await prepareTgz(file, bytes);
      prepared.push({
        info,
        bytes: result.prepared,
        layout: 'append-ready',
        note: `append-ready${result.wasReady ? ' (already was)' : ''}, ${result.entries} entries verified`,
      });
    } else {
      // The strict archive profile (docs/formats.md), before anything is written.
      try {
        if (format === 'zip') listZipEntries(bytes);
        else checkExecutable(bytes);
      } catch (error) {
        if (!(error instanceof CibError)) throw error;
        throw new CibError(error.problems.map((p) => ({ ...p, path: `${file}: ${p.path}` })));
      }
      prepared.push({ info, bytes, layout: 'plain', note: 'copied' });
    }
  }
  mkdirSync(out, { recursive: true });
  const bases: BaseManifestEntry[] = [];
  for (const { info, bytes, layout, note } of prepared) {
    writeFileAtomic(join(out, info.baseFile), bytes);
    bases.push({
      platform: info.platform,
      file: info.baseFile,
      size: bytes.length,
      sha256: sha256Hex(bytes),
      layout,
      ...(version === undefined ? {} : { version }),
    });
    console.log(`${join(out, info.baseFile)}: ${note}.`);
    printSoftware(await checkInstallerSoftware(bytes, { knownKeys }, info.format));
  }
  writeFileAtomic(
    join(out, MANIFEST_FILE),
    formatManifest({ ...(version === undefined ? {} : { version }), bases }),
  );
  console.log(`${join(out, MANIFEST_FILE)}: ${bases.length} base installers listed.`);
}

export const prepareBaseCommand: Command = {
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { out: { type: 'string' }, version: { type: 'string' }, ...updateKeyOptions },
      true,
    );
    if (positionals.length !== 1)
      throw new UsageError('Give exactly one base installer FILE or one folder DIR.');
    const input = positionals[0]!;
    const out = requireOption(values.out, 'out');
    const knownKeys = cliUpdateKeys(values);
    if (existsSync(input) && statSync(input).isDirectory()) {
      await prepareFolder(input, out, values.version, knownKeys);
      return 0;
    }
    if (values.version !== undefined)
      throw new UsageError('--version applies to a folder of bases only.');
    const base = readBase(input);
    const { prepared, wasReady, entries } = await prepareTgz(input, base);
    writeFileAtomic(out, prepared);
    console.log(
      `${out}: append-ready${wasReady ? ' (the input already was)' : ''}; ${entries} entries verified identical to ${input} (${base.length} -> ${prepared.length} bytes).`,
    );
    printSoftware(await checkInstallerSoftware(prepared, { knownKeys }, 'tgz'));
    return 0;
  },
};
