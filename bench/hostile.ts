import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { customizeInstaller } from '../src/core/archive/installer.ts';
import { PROJECT_ROOT } from '../src/host/deployment.ts';
import { median } from './stats.ts';
import type { BenchSuite } from './suites.ts';

const RUNS = 5;
const CLI = join(PROJECT_ROOT, 'src/cli/main.ts');
const BUILDER = join(PROJECT_ROOT, 'tests/python/hostile_archives.py');

/** One whole `cib inspect` process under GNU time: wall seconds and peak resident memory. */
function inspectOnce(file: string): { ms: number; rssMb: number; status: number } {
  const run = spawnSync(
    '/usr/bin/time',
    ['-f', 'cib-bench %e %M', process.execPath, '--import', 'tsx', CLI, 'inspect', file],
    { encoding: 'utf8', cwd: PROJECT_ROOT },
  );
  const figures = /cib-bench ([\d.]+) (\d+)/.exec(run.stderr);
  if (!figures) throw new Error(`no figures from /usr/bin/time:\n${run.stderr}`);
  return {
    ms: Number(figures[1]) * 1000,
    rssMb: Math.round(Number(figures[2]) / 1024),
    status: run.status ?? -1,
  };
}

function measure(file: string): { ms: number; rssMb: number; status: number } {
  inspectOnce(file); // warm-up: tsx's compile cache
  const runs = Array.from({ length: RUNS }, () => inspectOnce(file));
  return {
    ms: Math.round(median(runs.map((r) => r.ms))),
    rssMb: Math.max(...runs.map((r) => r.rssMb)),
    status: runs[0]!.status,
  };
}

/**
 * `npm run bench hostile`: whole-process `cib inspect` on hostile inputs (a ~1 MB tgz holding
 * 1 GiB of zeros; zips whose vesselinfo declares 4 GiB, or 100 bytes while inflating to 64 MiB;
 * tgz files of ~1.5 MB holding tens of thousands of entries with long names or deep paths, which
 * load the strict profile's checks across entries), against `cib inspect` of an ordinary custom
 * installer in the same run.
 */
export const hostileSuite: BenchSuite = {
  name: 'hostile',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
    try {
      execFileSync('python3', [BUILDER, dir, '--bench']);
      const inputs = {
        // a real installer shape, one vesselinfo: the figure the hostile ones compare with
        ordinary_tgz: join(dir, 'ordinary.tgz'),
        bomb_tgz: join(dir, 'bomb.tgz'),
        huge_declared_zip: join(dir, 'huge-declared.zip'),
        lying_size_zip: join(dir, 'lying-size.zip'),
        // the strict profile's checks across entries: many long names, and deep paths
        many_names_tgz: join(dir, 'many-names.tgz'),
        deep_paths_tgz: join(dir, 'deep-paths.tgz'),
      };
      const key = `65537 ${2n ** 2047n + 1n}`;
      const ordinary = await customizeInstaller({
        base: readFileSync(join(PROJECT_ROOT, 'base-installers/seattle_linux.tgz')),
        vesselinfo: `Percent 80\nOwner ${key}\nPercent 20\nOwner ${key}`,
      });
      writeFileSync(inputs.ordinary_tgz, ordinary);
      const results: Record<string, number | string> = {
        hostile_goal:
          'cib inspect of any hostile input: an answer or a clear refusal within seconds, peak memory under 200 MB',
        hostile_bomb_tgz_bytes: statSync(inputs.bomb_tgz).size,
        hostile_bomb_tgz_inflates_to_bytes: 2 ** 30,
      };
      for (const [name, file] of Object.entries(inputs)) {
        const figure = measure(file);
        results[`hostile_inspect_${name}_ms`] = figure.ms;
        results[`hostile_inspect_${name}_peak_rss_mb`] = figure.rssMb;
        results[`hostile_inspect_${name}_exit`] = figure.status;
      }
      return results;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
