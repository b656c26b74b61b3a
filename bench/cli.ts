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
 *
 * Settings that change Node's own start-up (NODE_EXTRA_CA_CERTS, which Node 20 reads and parses at
 * every start, and NODE_OPTIONS) are a property of the machine, not of `cib`, and weigh on every
 * Node process but not on the pipeline: when the environment has one, the `--help` and small-base
 * pairs are also run without them (`cli_*_no_node_env_*`), and the variables are named in
 * `cli_node_env`. The goals are on wall
 * time (`…_goal_met`); each pair's CPU time is written beside it (`…_cpu_ms`, `…_cpu_ratio`,
 * `…_cpu_goal_met`), the steadier figure under load.
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

/** Environment variables that change how Node itself starts (see the top of this file). */
const NODE_START_SETTINGS = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS'];

/**
 * A kept check keeps a base file's stamp only once the file's times are this old (README, "cib
 * customize"); an operator's base is older, so the runs wait for the bases to be.
 */
const SETTLED_MS = 2100;
const CIB = join(PROJECT_ROOT, 'bin/cib.cjs');
const KEY = `65537 ${2n ** 2047n + 12345n}`;

/**
 * The bases are signed by the run's own update key, trusted through UPDATE_KEYS as an operator
 * trusts theirs: a base copied out of its deployment (the plain one has no manifest) is no demo.
 */
let updateKeys = '';

/**
 * Runs a command (stdout discarded) from Python, which times it from fork to exit and reads the
 * CPU time it and its children used (wait4): Python's own start-up is outside both figures. Under
 * load the CPU time is the steadier figure, since the wall time includes waiting for a core.
 */
const TIMER = `import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(null, 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = (time.perf_counter() - start) * 1000
print(wall, (usage.ru_utime + usage.ru_stime) * 1000)
sys.exit(os.waitstatus_to_exitcode(status))`;

function timed(
  command: string,
  args: string[],
  cwd: string,
  cacheDir: string,
  bareNode: boolean,
): { wall: number; cpu: number } {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CIB_CACHE_DIR: cacheDir,
    UPDATE_KEYS: updateKeys,
  };
  if (bareNode) for (const name of NODE_START_SETTINGS) delete env[name];
  const run = spawnSync('python3', ['-c', TIMER, command, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${run.stderr}`);
  const [wall, cpu] = run.stdout.trim().split(' ').map(Number);
  return { wall: wall!, cpu: cpu! };
}

const round = (x: number) => Math.round(x * 10) / 10;

/**
 * Runs the two commands in turn; returns first runs and medians of the rest, wall time and CPU
 * time (`…Cpu`).
 */
function pair(
  ours: [string, string[]],
  theirs: [string, string[]],
  cwd: string,
  cacheDir: string,
  bareNode = false,
): {
  oursFirst: number;
  theirsFirst: number;
  ours: number;
  theirs: number;
  oursCpu: number;
  theirsCpu: number;
} {
  const a: { wall: number; cpu: number }[] = [];
  const b: { wall: number; cpu: number }[] = [];
  for (let i = 0; i <= RUNS; i++) {
    a.push(timed(...ours, cwd, cacheDir, bareNode));
    b.push(timed(...theirs, cwd, cacheDir, bareNode));
  }
  const mid = (runs: { wall: number; cpu: number }[], key: 'wall' | 'cpu') =>
    round(median(runs.slice(1).map((r) => r[key])));
  return {
    oursFirst: round(a[0]!.wall),
    theirsFirst: round(b[0]!.wall),
    ours: mid(a, 'wall'),
    theirs: mid(b, 'wall'),
    oursCpu: mid(a, 'cpu'),
    theirsCpu: mid(b, 'cpu'),
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

type Pair = ReturnType<typeof pair>;

/** The build configuration and the vesselinfo the old pipeline appends, in `work`. */
function prepare(work: string): string {
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
  return config;
}

/** Every pair, with each figure's goal (a ratio to what it is compared with). */
async function measure(
  work: string,
  keys: UpdateKeyPair,
): Promise<Record<string, Pair & { goal: number }>> {
  const config = prepare(work);
  const smallDir = baseFolder(work, 'small', SMALL_TREE, false, keys);
  const bigDir = baseFolder(work, 'big', LARGE_TREE, false, keys);
  const plainDir = baseFolder(work, 'plain', LARGE_TREE, true, keys);
  const made = Date.now();
  // Kept checks go to the run's own folder: the first run of each base walks it.
  const kept = join(work, 'cache');
  const help = (bare = false) =>
    pair([process.execPath, [CIB, '--help']], [process.execPath, ['-e', '0']], work, kept, bare);
  const customize = (dir: string, cacheDir: string, bare = false) =>
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
      bare,
    );
  const figures: Record<string, Pair & { goal: number }> = { cli_help: { ...help(), goal: 1.2 } };
  await new Promise((done) => setTimeout(done, Math.max(0, made + SETTLED_MS - Date.now())));
  figures.cli_customize_small = { ...customize(smallDir, kept), goal: 1 };
  figures.cli_customize_big = { ...customize(bigDir, kept), goal: 0.25 };
  // An empty CIB_CACHE_DIR keeps nothing: every run walks the base, as a first run does.
  figures.cli_customize_big_uncached = { ...customize(bigDir, ''), goal: 0.5 };
  figures.cli_customize_plain_big = { ...customize(plainDir, kept), goal: 1 };
  if (NODE_START_SETTINGS.some((name) => process.env[name] !== undefined)) {
    figures.cli_help_no_node_env = { ...help(true), goal: 1.2 };
    figures.cli_customize_small_no_node_env = { ...customize(smallDir, kept, true), goal: 1 };
  }
  return figures;
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
      const figures = await measure(work, keys);
      const size = (name: string) => readFileSync(join(work, name, 'seattle_linux.tgz')).length;
      const nodeEnv = NODE_START_SETTINGS.filter((name) => process.env[name] !== undefined);
      return describeFigures(figures, {
        cli_conditions: `${underLoad ? 'measured under load' : 'measured on a quiet machine'} (before: ${before}; after: ${load()})`,
        cli_under_load: underLoad,
        cli_runs: RUNS,
        cli_node_env:
          nodeEnv.length > 0
            ? `${nodeEnv.join(', ')} set: the cli_*_no_node_env_* pairs run both commands without`
            : 'none of NODE_EXTRA_CA_CERTS, NODE_OPTIONS set',
        cli_small_base_bytes: size('small'),
        cli_big_base_bytes: size('big'),
        cli_plain_big_base_bytes: size('plain'),
      });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};

/** The figures as results: each pair's times, ratio, goal and whether it is met, in wall and CPU time. */
function describeFigures(
  figures: Record<string, Pair & { goal: number }>,
  results: Record<string, number | string | boolean>,
): Record<string, number | string | boolean> {
  const { cli_help: help, cli_customize_small: small, cli_customize_big: big } = figures;
  const { cli_customize_big_uncached: uncached, cli_customize_plain_big: plain } = figures;
  Object.assign(results, {
    cli_help_ms: help!.ours,
    cli_help_first_ms: help!.oursFirst,
    node_floor_ms: help!.theirs,
    cli_help_goal: 'cli_help_ms at most 1.2 x node_floor_ms',
    cli_customize_small_ms: small!.ours,
    cli_customize_small_first_ms: small!.oursFirst,
    cib_pipeline_small_ms: small!.theirs,
    cli_customize_small_goal: 'with the check kept, no slower than cib_pipeline_small_ms',
    cli_customize_big_ms: big!.ours,
    cli_customize_big_first_ms: big!.oursFirst,
    cib_pipeline_big_ms: big!.theirs,
    cli_customize_big_goal: 'with the check kept, at most 0.25 x cib_pipeline_big_ms',
    cli_customize_big_uncached_ms: uncached!.ours,
    cib_pipeline_big_uncached_ms: uncached!.theirs,
    cli_customize_big_uncached_goal:
      'with nothing kept (every run walks the base, as a first run does), at most 0.5 x cib_pipeline_big_uncached_ms',
    cli_customize_plain_big_ms: plain!.ours,
    cli_customize_plain_big_first_ms: plain!.oursFirst,
    cib_pipeline_plain_big_ms: plain!.theirs,
    cli_customize_plain_big_goal: 'no slower than cib_pipeline_plain_big_ms',
  });
  const bare = figures.cli_customize_small_no_node_env;
  if (bare) {
    Object.assign(results, {
      cli_help_no_node_env_ms: figures.cli_help_no_node_env!.ours,
      node_floor_no_node_env_ms: figures.cli_help_no_node_env!.theirs,
      cli_customize_small_no_node_env_ms: bare.ours,
      cib_pipeline_small_no_node_env_ms: bare.theirs,
    });
  }
  const ratio = (ours: number, theirs: number) => Math.round((ours / theirs) * 100) / 100;
  for (const [name, f] of Object.entries(figures)) {
    results[`${name}_ratio`] = ratio(f.ours, f.theirs);
    results[`${name}_goal_met`] = f.ours <= f.goal * f.theirs;
    // The same pair's CPU time (medians), beside the goal, for runs under load.
    results[`${name}_cpu_ms`] = f.oursCpu;
    results[`${name}_yardstick_cpu_ms`] = f.theirsCpu;
    results[`${name}_cpu_ratio`] = ratio(f.oursCpu, f.theirsCpu);
    results[`${name}_cpu_goal_met`] = f.oursCpu <= f.goal * f.theirsCpu;
  }
  return results;
}
