import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { detectFormat } from '../../core/archive/installer.ts';
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
import {
  checkBase,
  retrustBaseCheck,
  validSigner,
  type BaseCheck,
} from '../../core/archive/base-check.ts';
import { deploymentTrustsDemoKey, withDemoKey } from '../../core/update-trust.ts';
import { checkExecutable } from '../../core/archive/exe.ts';
import { listZipEntries } from '../../core/archive/zip.ts';
import { PLATFORMS, type PlatformInfo } from '../../core/platforms.ts';
import type { KnownUpdateKey } from '../../core/deployment-settings.ts';
import { CibError, errorsOf, problem } from '../../core/problems.ts';
import { writeFileAtomic } from '../../host/files.ts';
import { sha256Hex } from '../../host/hash.ts';
import { deploymentBaseCheck } from '../kept-checks.ts';
import {
  cliUpdateKeys,
  printProblems,
  printSoftware,
  UPDATE_KEY_HELP,
  updateKeyOptions,
} from '../cli-settings.ts';
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

Each base then gets the check a build runs (README, "Software verification"): its Seattle
software against the signed metainfo by Seattle's rules, the update key the node trusts against
the keys trusted here, and no ambiguous vesselinfo. It is reported as \`cib inspect\` does, and a
base a build would refuse makes the command exit 1 with the reason, writing nothing. Given a
folder, the demo update key is trusted only when every base in it is signed by it; given a file,
only when manifest.json beside it lists it and only demo-signed bases.

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
  // The check a build runs, with the folder as the deployment for the demo-key rule.
  let checks: BaseCheck[] = [];
  for (const { info, bytes } of prepared)
    checks.push(await checkBase(bytes, { knownKeys }, info.format));
  if (deploymentTrustsDemoKey(checks.map((c) => validSigner(c.software))))
    checks = checks.map((c) => retrustBaseCheck(c, withDemoKey(knownKeys, true)));
  prepared.forEach(({ info, note }, i) => {
    console.log(`${join(out, info.baseFile)}: ${note}.`);
    reportCheck(info.baseFile, checks[i]!, info.format === 'exe');
  });
  const refused = prepared.flatMap(({ info }, i) =>
    errorsOf(checks[i]!.problems).map((p) => ({ ...p, path: join(dir, info.baseFile) })),
  );
  if (refused.length > 0) throw new CibError(refused);

  mkdirSync(out, { recursive: true });
  const bases: BaseManifestEntry[] = [];
  for (const { info, bytes, layout } of prepared) {
    writeFileAtomic(join(out, info.baseFile), bytes);
    bases.push({
      platform: info.platform,
      file: info.baseFile,
      size: bytes.length,
      sha256: sha256Hex(bytes),
      layout,
      ...(version === undefined ? {} : { version }),
    });
  }
  writeFileAtomic(
    join(out, MANIFEST_FILE),
    formatManifest({ ...(version === undefined ? {} : { version }), bases }),
  );
  console.log(`${join(out, MANIFEST_FILE)}: ${bases.length} base installers listed.`);
}

/** A base's check as prepare-base prints it: the software section, then the other problems. */
function reportCheck(file: string, check: BaseCheck, exe: boolean): void {
  if (check.software || exe) printSoftware(check.software);
  // The software's reasons are in the refusal itself, printed once at the end.
  printProblems(
    check.problems.filter((p) => !p.code.startsWith('software.')),
    file,
  );
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
    const check = await deploymentBaseCheck(
      input,
      sha256Hex(base),
      knownKeys,
      await checkBase(prepared, { knownKeys }, 'tgz'),
    );
    console.log(
      `${out}: append-ready${wasReady ? ' (the input already was)' : ''}; ${entries} entries verified identical to ${input} (${base.length} -> ${prepared.length} bytes).`,
    );
    reportCheck(input, check, false);
    const refused = errorsOf(check.problems);
    if (refused.length > 0) throw new CibError(refused.map((p) => ({ ...p, path: input })));
    writeFileAtomic(out, prepared);
    return 0;
  },
};
