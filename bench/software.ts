/**
 * The software check's cost on the 32 MiB synthetic base, as a share of the whole customisation
 * (SHA-256 against the manifest, the check, writing the installer), measured in the same run.
 */
import { customizeInstaller } from '../src/core/archive/installer.ts';
import { checkInstallerSoftware } from '../src/core/archive/base-check.ts';
import { knownUpdateKeys } from '../src/core/software.ts';
import { timeMedian } from './stats.ts';
import type { BenchSuite } from './suites.ts';
import { demoUpdateKeys, syntheticBases } from './synthetic.ts';

const RUNS = 5;
const VESSELINFO = 'Percent 80\nOwner 65537 1234\nPercent 20\nOwner 3 55';

export const softwareSuite: BenchSuite = {
  name: 'software',
  async run() {
    const { publicKey } = demoUpdateKeys();
    const made = syntheticBases();
    const figures: Record<string, number> = {};
    for (const platform of ['linux', 'windows'] as const) {
      const { bytes, entry } = made.bases.find((b) => b.entry.platform === platform)!;
      const knownKeys = knownUpdateKeys([{ key: `${publicKey.e} ${publicKey.n}`, label: 'bench' }]);
      const report = await checkInstallerSoftware(bytes, { knownKeys });
      if (report?.verdict !== 'intact')
        throw new Error(`bench base not intact: ${report?.verdict}`);
      const check = await timeMedian(RUNS, () => checkInstallerSoftware(bytes, { knownKeys }));
      const customize = await timeMedian(RUNS, () =>
        customizeInstaller({ base: bytes, vesselinfo: VESSELINFO, expectSha256: entry.sha256 }),
      );
      const prefix = platform === 'linux' ? 'software_tgz' : 'software_zip';
      figures[`${prefix}_base_bytes`] = bytes.length;
      figures[`${prefix}_files_listed`] = report.listed;
      figures[`${prefix}_check_ms`] = check;
      figures[`${prefix}_customize_ms`] = customize;
      // Share of the whole build (customise + check) that the check takes.
      figures[`${prefix}_check_share_pct`] = Math.round((1000 * check) / (check + customize)) / 10;
      // Not measured: what fetching the same base takes at 50 Mbit/s, the scale the check sits on.
      figures[`${prefix}_download_at_50mbit_ms`] = Math.round((bytes.length * 8) / 50_000);
    }
    return figures;
  },
};
