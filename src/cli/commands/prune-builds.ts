import { resolve } from 'node:path';
import { parseAge, pruneBuilds } from '../../host/build-records.ts';
import { parseCommandArgs, requireOption, UsageError, type Command } from '../command.ts';

const help = `Usage: cib prune-builds --data-dir DIR --older-than AGE [--dry-run]

Deletes the server's build records (DIR/builds/<id[0..2]>/<id>.json, DIR being the server's
DATA_DIR) that were last written or asked for more than AGE ago: build_installers for an existing
build touches its record, so builds in use stay. AGE is a whole number and a unit: 45s, 90m, 12h,
30d or 2w. Stale temp files left by a crash are removed too.

Safe to run while the server runs (from cron, say): each record is renamed aside, checked again
and only then deleted, and a build asked for at that moment is written again by the server. The
installer URLs of a deleted build answer 404 until the same build_installers call is made again.

--dry-run only counts. Prints one line: how many records were removed and kept.`;

export const pruneBuildsCommand: Command = {
  help,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      'data-dir': { type: 'string' },
      'older-than': { type: 'string' },
      'dry-run': { type: 'boolean' },
    });
    const dataDir = resolve(requireOption(values['data-dir'], 'data-dir'));
    const ageText = requireOption(values['older-than'], 'older-than');
    const age = parseAge(ageText);
    if (age === undefined)
      throw new UsageError(
        `--older-than must be a whole number and a unit (s, m, h, d or w) such as 30d, not "${ageText}".`,
      );
    const dryRun = values['dry-run'] === true;
    const result = await pruneBuilds(dataDir, age, { dryRun });
    const temps = result.temps ? `, ${result.temps} stale temp files removed` : '';
    console.log(
      `${dryRun ? 'would remove' : 'removed'} ${result.removed} build records older than ${ageText}, kept ${result.kept}${temps}.`,
    );
    return 0;
  },
};
