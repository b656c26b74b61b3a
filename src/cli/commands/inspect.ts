import { inspectInstaller, type InstallerSource } from '../../core/archive/index.ts';
import { CibError, problem } from '../../core/problems.ts';
import { printProblems } from '../../node/cli-settings.ts';
import { fileSource } from '../../node/files.ts';
import { parseCommandArgs, UsageError, type Command } from '../command.ts';

const help = `Usage: cib inspect FILE [--json]

Shows what an installer (.tgz, .zip or the GUI .exe) will do on the donor's machine: its vessels
with node names, shares and ports (spec §3), the owner's and users' key fingerprints, and whether
the node-side installer would accept it.

  --json   print {format, vesselinfo, vessels: [{name, percent, owner, users, ports: [first, last],
           ownerFingerprint, userFingerprints}], valid, ambiguous,
           problems: [{code, path, message, severity}]}

A tgz is streamed from disk with its inflated size capped; more than one entry extracting to
seattle/seattle_repy/vesselinfo, or one that is not a regular file, makes the installer
ambiguous: every such entry is named and the exit code is 1.

Exit 0 when the node would accept the installer, 1 when it would not or the file is unreadable.`;

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show the vessels an installer will create, and whether the node accepts it',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('Name exactly one installer file.');
    const file = positionals[0]!;
    let source: InstallerSource;
    try {
      source = fileSource(file);
    } catch (error) {
      throw new CibError(
        problem('cli.file.read', file, `Cannot read the installer: ${(error as Error).message}.`),
      );
    }
    const inspection = await inspectInstaller(source);
    if (values.json) {
      console.log(JSON.stringify(inspection, null, 2));
    } else {
      console.log(`${file}: ${inspection.format} installer`);
      for (const v of inspection.vessels) {
        console.log(
          `  ${v.name}  ${String(v.percent).padStart(3)}%  ports ${v.ports[0]}-${v.ports[1]}`,
        );
        console.log(`      owner ${v.ownerFingerprint}`);
        for (const u of v.userFingerprints) console.log(`      user  ${u}`);
      }
      console.log(
        inspection.valid
          ? 'The node will accept this installer.'
          : inspection.ambiguous
            ? 'AMBIGUOUS installer: several entries (or a link) extract to the vesselinfo; do not install it.'
            : 'The node would REFUSE this installer.',
      );
      printProblems(inspection.problems, file);
    }
    return inspection.valid ? 0 : 1;
  },
};
