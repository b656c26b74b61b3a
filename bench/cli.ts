/**
 * Whole processes, as an operator meets them: `cib` start-up and `cib customize` of realistic
 * bases, each run in turn with what it is compared with (`node -e 0`, and the old service's
 * `gzip -dc | tar -rf | gzip -c`), medians of RUNS after a first run reported apart.
 *
 * - `cib --help` against `node -e 0`: goal at most 1.2×.
 * - `cib customize` of the 0.55 MB and the 15.7 MB append-ready base with the base's check kept
 *   from an earlier run (an operator's next customisation from the same base): goals no slower
 *   than the pipeline, and at most 0.25× of it.
 * - the same on the 15.7 MB base with nothing kept (CIB_CACHE_DIR empty, so every run walks the
 *   base, as a first run does): goal at most 0.5×.
 * - a 15.5 MB tgz written by Python's tarfile (not append-ready): goal no slower.
 *
 * The machine's load average is written beside the figures: on a shared machine they are
 * measured under load, and only the ratios of pairs run in turn carry over.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatManifest } from '../src/core/manifest.ts';
import { PROJECT_ROOT } from '../src/host/deployment.ts';
import { median } from './stats.ts';
import type { BenchSuite } from './suites.ts';
import {
  benchUpdateKeys,
  LARGE_TREE,
  SMALL_TREE,
  syntheticBases,
  type TreeShape,
  type UpdateKeyPair,
} from './synthetic.ts';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7);
const CIB = join(PROJECT_ROOT, 'bin/cib.cjs');
const KEY = `65537 ${2n ** 2047n + 12345n}`;

/**
 * The bases are signed by the run's own update key, trusted through UPDATE_KEYS as an operator
 * trusts theirs: a base copied out of its deployment (the plain one has no manifest) is no demo.
 */
let updateKeys = '';

function timed(command: string, args: string[], cwd: string, cacheDir: string): number {
  const start = performance.now();
  const run = spawnSync(command, args, {
    cwd,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CIB_CACHE_DIR: cacheDir, UPDATE_KEYS: updateKeys },
  });
  const ms = performance.now() - start;
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${run.stderr}`);
  return ms;
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Runs the two commands in turn; returns first runs and medians of the rest. */
function pair(
  ours: [string, string[]],
  theirs: [string, string[]],
  cwd: string,
  cacheDir: string,
): { oursFirst: number; theirsFirst: number; ours: number; theirs: number } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    a.push(timed(...ours, cwd, cacheDir));
    b.push(timed(...theirs, cwd, cacheDir));
  }
  return {
    oursFirst: round(a[0]!),
    theirsFirst: round(b[0]!),
    ours: round(median(a.slice(1))),
    theirs: round(median(b.slice(1))),
  };
}

/**
 * A folder with a signed append-ready `seattle_linux.tgz` (made by make-base) and its manifest, or
 * the same files repacked by Python's tarfile as a plain tgz with no manifest.
 */
function baseFolder(
  root: string,
  name: string,
  shape: TreeShape,
  plain: boolean,
  keys: UpdateKeyPair,
): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const made = syntheticBases(shape, keys);
  const linux = made.bases.find((b) => b.entry.platform === 'linux')!;
  writeFileSync(join(dir, 'seattle_linux.tgz'), linux.bytes);
  if (plain) {
    const src = join(dir, 'src');
    mkdirSync(src);
    execFileSync('tar', ['-xzf', join(dir, 'seattle_linux.tgz'), '-C', src]);
    execFileSync('python3', [
      '-c',
      'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1], arcname="seattle")',
      join(src, 'seattle'),
      join(dir, 'seattle_linux.tgz'),
    ]);
    rmSync(src, { recursive: true });
  } else {
    writeFileSync(
      join(dir, 'manifest.json'),
      formatManifest({ ...made.manifest, bases: [linux.entry] }),
    );
  }
  return dir;
}

/** The old service's way, in a shell: gunzip whole, `tar -r` the vesselinfo, gzip whole. */
const OLD_PIPELINE =
  'gzip -dc "$1" > out.tar && tar -rf out.tar -C add seattle/seattle_repy/vesselinfo && gzip -c out.tar > old.tgz';

/** The 1-minute load average and the core count, as text for the results. */
function load(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;
}

export const cliSuite: BenchSuite = {
  name: 'cli',
  async run() {
    execFileSync(process.execPath, [join(PROJECT_ROOT, 'scripts/build-node.mjs')]);
    const work = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    const keys = await benchUpdateKeys();
    updateKeys = keys.text;
    const before = load();
    const underLoad = loadavg()[0]! >= cpus().length / 2;
    try {
      const config = join(work, 'build.json');
      writeFileSync(
        config,
        JSON.stringify({
          vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }],
          user_data: { owner: { public_key: KEY }, user: { public_key: KEY } },
        }),
      );
      mkdirSync(join(work, 'add/seattle/seattle_repy'), { recursive: true });
      writeFileSync(
        join(work, 'add/seattle/seattle_repy/vesselinfo'),
        execFileSync(process.execPath, [CIB, 'vesselinfo', '--config', config]),
      );
      // Kept checks go to the run's own folder: the first run of each base walks it.
      const kept = join(work, 'cache');
      const help = pair(
        [process.execPath, [CIB, '--help']],
        [process.execPath, ['-e', '0']],
        work,
        kept,
      );
      const customize = (dir: string, cacheDir: string) =>
        pair(
          [
            process.execPath,
            [
              CIB,
              'customize',
              '--base',
              join(dir, 'seattle_linux.tgz'),
              '--config',
              config,
              '--out',
              join(work, 'ours.tgz'),
            ],
          ],
          ['sh', ['-c', OLD_PIPELINE, 'old', join(dir, 'seattle_linux.tgz')]],
          work,
          cacheDir,
        );
      const smallDir = baseFolder(work, 'small', SMALL_TREE, false, keys);
      const bigDir = baseFolder(work, 'big', LARGE_TREE, false, keys);
      const small = customize(smallDir, kept);
      const big = customize(bigDir, kept);
      // An empty CIB_CACHE_DIR keeps nothing: every run walks the base, as a first run does.
      const uncached = customize(bigDir, '');
      const plain = customize(baseFolder(work, 'plain', LARGE_TREE, true, keys), kept);
      const size = (name: string) => readFileSync(join(work, name, 'seattle_linux.tgz')).length;
      const ratio = (ours: number, theirs: number) => Math.round((ours / theirs) * 100) / 100;
      const figures = {
        cli_help: { ours: help.ours, theirs: help.theirs, goal: 1.2 },
        cli_customize_small: { ours: small.ours, theirs: small.theirs, goal: 1 },
        cli_customize_big: { ours: big.ours, theirs: big.theirs, goal: 0.25 },
        cli_customize_big_uncached: { ours: uncached.ours, theirs: uncached.theirs, goal: 0.5 },
        cli_customize_plain_big: { ours: plain.ours, theirs: plain.theirs, goal: 1 },
      };
      const results: Record<string, number | string | boolean> = {
        cli_conditions: `${underLoad ? 'measured under load' : 'measured on a quiet machine'} (before: ${before}; after: ${load()})`,
        cli_under_load: underLoad,
        cli_runs: RUNS,
        cli_small_base_bytes: size('small'),
        cli_big_base_bytes: size('big'),
        cli_plain_big_base_bytes: size('plain'),
        cli_help_ms: help.ours,
        cli_help_first_ms: help.oursFirst,
        node_floor_ms: help.theirs,
        cli_help_goal: 'cli_help_ms at most 1.2 x node_floor_ms',
        cli_customize_small_ms: small.ours,
        cli_customize_small_first_ms: small.oursFirst,
        cib_pipeline_small_ms: small.theirs,
        cli_customize_small_goal: 'with the check kept, no slower than cib_pipeline_small_ms',
        cli_customize_big_ms: big.ours,
        cli_customize_big_first_ms: big.oursFirst,
        cib_pipeline_big_ms: big.theirs,
        cli_customize_big_goal: 'with the check kept, at most 0.25 x cib_pipeline_big_ms',
        cli_customize_big_uncached_ms: uncached.ours,
        cib_pipeline_big_uncached_ms: uncached.theirs,
        cli_customize_big_uncached_goal:
          'with nothing kept (every run walks the base, as a first run does), at most 0.5 x cib_pipeline_big_uncached_ms',
        cli_customize_plain_big_ms: plain.ours,
        cli_customize_plain_big_first_ms: plain.oursFirst,
        cib_pipeline_plain_big_ms: plain.theirs,
        cli_customize_plain_big_goal: 'no slower than cib_pipeline_plain_big_ms',
      };
      for (const [name, f] of Object.entries(figures)) {
        results[`${name}_ratio`] = ratio(f.ours, f.theirs);
        results[`${name}_goal_met`] = f.ours <= f.goal * f.theirs;
      }
      return results;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
