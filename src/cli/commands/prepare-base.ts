import { readFileSync } from 'node:fs';
import {
  isAppendReady,
  makeAppendReady,
  readTgzEntries,
  type TgzEntry,
} from '../../core/archive/tgz.ts';
import { checkInstallerSoftware } from '../../core/archive/software-walk.ts';
import { CibError, problem } from '../../core/problems.ts';
import {
  cliUpdateKeys,
  printSoftware,
  UPDATE_KEY_HELP,
  updateKeyOptions,
} from '../../node/cli-settings.ts';
import { writeFileAtomic } from '../../node/files.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const help = `Usage: cib prepare-base FILE --out FILE [--update-key FILE]...

Rewrites a gzip-compressed tar base installer (for example one built with the old packaging
scripts, Python's tarfile or GNU tar) into the append-ready layout, which lets customisation copy
the base's bytes instead of recompressing them. The tar entries are kept byte for byte; only the
gzip framing and the end-of-archive padding change.

The result is re-read and every entry (name, type, mode, owner, mtime, size and bytes) is compared
with the input before the output is written; the output appears only when they are identical.

It then reports the base's software check (the signed metainfo against the program files), as
\`cib inspect\` does; builds refuse a base whose files differ or whose signature fails.

  --out FILE            where to write the append-ready base (replaced atomically)
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

export const prepareBaseCommand: Command = {
  name: 'prepare-base',
  summary: 'rewrite a tgz base installer into the append-ready layout',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { out: { type: 'string' }, ...updateKeyOptions },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('Give exactly one base installer FILE.');
    const input = positionals[0]!;
    const out = requireOption(values.out, 'out');
    const knownKeys = cliUpdateKeys(values);
    let base: Uint8Array;
    try {
      base = readFileSync(input);
    } catch (error) {
      throw new CibError(
        problem('file.read', input, `Cannot read the file (${(error as Error).message}).`),
      );
    }
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
    writeFileAtomic(out, prepared);
    console.log(
      `${out}: append-ready${wasReady ? ' (the input already was)' : ''}; ${after.length} entries verified identical to ${input} (${base.length} -> ${prepared.length} bytes).`,
    );
    printSoftware(await checkInstallerSoftware(prepared, { knownKeys }, 'tgz'));
    return 0;
  },
};
