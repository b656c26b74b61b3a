import { readFileSync } from 'node:fs';
import { inspectInstaller } from '../../core/archive/index.ts';
import { CibError, problem } from '../../core/problems.ts';
import { printProblems } from '../settings.ts';
import { parseCommandArgs, UsageError, type Command } from '../command.ts';

const help = `Usage: cib inspect FILE [--json]

Shows what an installer (.tgz, .zip or the GUI .exe) will do on the donor's machine: its vessels
with node names, shares and ports (spec §3), the owner's and users' key fingerprints, and whether
the node-side installer would accept it.

  --json   print {format, vesselinfo, vessels: [{name, percent, owner, users, ports: [first, last],
           ownerFingerprint, userFingerprints}], valid, problems: [{code, path, message, severity}]}

Exit 0 when the node would accept the installer, 1 when it would not or the file is unreadable.`;

export const inspectCommand: Command = {
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, true);
    if (positionals.length !== 1) throw new UsageError('Name exactly one installer file.');
    const file = positionals[0]!;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new CibError(
        problem('cli.file.read', file, `Cannot read the installer: ${(error as Error).message}.`),
      );
    }
    const inspection = await inspectInstaller(bytes);
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
          : 'The node would REFUSE this installer.',
      );
      printProblems(inspection.problems, file);
    }
    return inspection.valid ? 0 : 1;
  },
};
