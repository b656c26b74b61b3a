/**
 * `npm run bench inspect`: what inspecting an ordinary installer costs with the strict archive
 * profile (docs/formats.md, "Strict archive profile"), on the 32 MiB synthetic base customised
 * into an installer (tgz and zip). Measured in the same run: the whole inspection (the walk with
 * every profile rule, as the page and `cib inspect` run it, and the software check it shows), the
 * floor any inspection pays (inflating the tgz; reading the zip's directory), and the profile's
 * checks across entries alone (ProfileNames over the same names), with their share.
 */
import { customizeInstaller, inspectInstaller } from '../src/core/archive/installer.ts';
import { checkInstallerSoftware } from '../src/core/archive/base-check.ts';
import { GzipReader } from '../src/core/archive/gzip.ts';
import { ProfileNames } from '../src/core/archive/profile.ts';
import { walkEntries } from '../src/core/archive/walk.ts';
import { timeMedian } from './stats.ts';
import type { BenchSuite } from './suites.ts';
import { syntheticBases } from './synthetic.ts';

const RUNS = 7;
const VESSELINFO = 'Percent 80\nOwner 65537 1234\nPercent 20\nOwner 3 55';

export const inspectSuite: BenchSuite = {
  name: 'inspect',
  async run() {
    const made = syntheticBases();
    const figures: Record<string, number | string> = {
      inspect_goal:
        'inspecting an ordinary installer costs no more than before the strict profile: the ' +
        "profile's checks across entries take a small share (under 5%) of the inspection (the " +
        "vessels' walk and the software check), which inflating sets",
    };
    for (const platform of ['linux', 'windows'] as const) {
      const { bytes: base } = made.bases.find((b) => b.entry.platform === platform)!;
      const installer = await customizeInstaller({ base, vesselinfo: VESSELINFO });
      const style = platform === 'linux' ? 'tar' : 'zip';
      const names: [string, 'file' | 'directory'][] = [];
      await walkEntries(installer, {
        wantsData: () => false,
        onEntry: (e) => names.push([e.name, e.type === 'directory' ? 'directory' : 'file']),
      });
      const inspect = await timeMedian(RUNS, () => inspectInstaller(installer));
      const software = await timeMedian(RUNS, () => checkInstallerSoftware(installer));
      const floor = await timeMedian(RUNS, () =>
        style === 'tar'
          ? new GzipReader(() => {}).push(installer, true)
          : walkEntries(installer, { wantsData: () => false, onEntry: () => {} }),
      );
      const profile = await timeMedian(RUNS, () => {
        const seen = new ProfileNames(style);
        for (const [name, kind] of names) seen.add(name, kind);
      });
      const prefix = `inspect_${platform === 'linux' ? 'tgz' : 'zip'}`;
      figures[`${prefix}_bytes`] = installer.length;
      figures[`${prefix}_entries`] = names.length;
      figures[`${prefix}_ms`] = inspect;
      figures[`${prefix}_software_check_ms`] = software;
      figures[`${prefix}_${style === 'tar' ? 'inflate' : 'directory'}_floor_ms`] = floor;
      figures[`${prefix}_profile_names_ms`] = profile;
      // `cib inspect` and the page run both: the vessels' walk and the software check.
      figures[`${prefix}_profile_share_pct`] =
        Math.round((1000 * profile) / (inspect + software)) / 10;
    }
    figures.inspect_goal_met = String(
      (figures.inspect_tgz_profile_share_pct as number) < 5 &&
        (figures.inspect_zip_profile_share_pct as number) < 5,
    );
    return figures;
  },
};
