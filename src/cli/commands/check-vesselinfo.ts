import { readFileSync } from 'node:fs';
import { fingerprint } from '../../core/keys.ts';
import { CibError, errorsOf, problem } from '../../core/problems.ts';
import { nodeVessels, parseVesselinfo } from '../../core/vesselinfo.ts';
import { printProblems } from '../cli-settings.ts';
import { parseCommandArgs, UsageError, type Command } from '../command.ts';

const help = `Usage: cib check-vesselinfo FILE

Checks a vesselinfo file as the node-side installer reads it (docs/formats.md#vesselinfo): labels Percent, Owner
and User exactly; one space between fields; no empty lines (one newline at the very end is fine);
one owner per vessel; percentages multiples of 10 from 10 to 100 adding up to exactly 100; valid
public keys.

Exit 0 and a summary of the vessels the node would create (name, share, ports, key fingerprints)
on stdout; 1 with one "line N: ..." message per problem on stderr. Weak keys (under 1024 bits)
are warnings, as the node accepts them.`;

export const checkVesselinfoCommand: Command = {
  help,
  async run(argv) {
    const { positionals } = parseCommandArgs(argv, {}, true);
    if (positionals.length !== 1) throw new UsageError('Give exactly one vesselinfo FILE.');
    const file = positionals[0] as string;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CibError(
        problem(
          'cli.file.read',
          file,
          `Cannot read the file: ${code === 'ENOENT' ? 'it does not exist' : code}.`,
        ),
      );
    }
    // Bytes that are not UTF-8 become U+FFFD, which the parser reports as not ASCII.
    const { vessels, problems } = parseVesselinfo(new TextDecoder('utf-8').decode(bytes));
    printProblems(problems);
    if (errorsOf(problems).length > 0) return 1;
    for (const v of nodeVessels(vessels)) {
      const users = v.users.map((u) => fingerprint(u)).join(' ');
      console.log(
        `${v.name} ${String(v.percent).padStart(3)}% ports ${v.ports[0]}-${v.ports[1]} owner ${fingerprint(v.owner)}` +
          (users ? ` users ${users}` : ''),
      );
    }
    return 0;
  },
};
