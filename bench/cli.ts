/**
 * Whole processes, as an operator meets them: `cib` start-up and `cib customize` of realistic
 * bases, each run alternately with what it is compared with (`node -e 0`, and the old service's
 * `gzip -dc | tar -rf | gzip -c`), first (cold) runs reported apart from the medians. A cold
 * `cib customize` walks the base (software and vesselinfo check) and keeps the check by SHA-256;
 * the runs after it, like an operator's next customisation from the same base, reuse it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatManifest } from '../src/core/manifest.ts';
import { PROJECT_ROOT } from '../src/node/deployment.ts';
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

const RUNS = 7;
const CIB = join(PROJECT_ROOT, 'bin/cib.js');
const KEY = `65537 ${2n ** 2047n + 12345n}`;

/** Kept base checks go to the run's own folder: the first run of each base walks it (cold). */
let cacheDir = '';
/**
 * The bases are signed by the run's own update key, trusted through UPDATE_KEYS as an operator
 * trusts theirs: a base copied out of its deployment (the plain one has no manifest) is no demo.
 */
let updateKeys = '';

function timed(command: string, args: string[], cwd: string): number {
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

/** Runs the two commands alternately; returns first runs and medians of the rest. */
function pair(
  ours: [string, string[]],
  theirs: [string, string[]],
  cwd: string,
): { oursFirst: number; theirsFirst: number; ours: number; theirs: number } {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    a.push(timed(...ours, cwd));
    b.push(timed(...theirs, cwd));
  }
  const round = (x: number) => Math.round(x * 10) / 10;
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

export const cliSuite: BenchSuite = {
  name: 'cli',
  async run() {
    execFileSync(process.execPath, [join(PROJECT_ROOT, 'scripts/build-node.mjs')]);
    const work = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    cacheDir = join(work, 'cache');
    const keys = await benchUpdateKeys();
    updateKeys = keys.text;
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
      const help = pair([process.execPath, [CIB, '--help']], [process.execPath, ['-e', '0']], work);
      const customize = (dir: string) =>
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
        );
      const small = customize(baseFolder(work, 'small', SMALL_TREE, false, keys));
      const big = customize(baseFolder(work, 'big', LARGE_TREE, false, keys));
      const plain = customize(baseFolder(work, 'plain', LARGE_TREE, true, keys));
      const size = (name: string) => readFileSync(join(work, name, 'seattle_linux.tgz')).length;
      return {
        cli_small_base_bytes: size('small'),
        cli_big_base_bytes: size('big'),
        cli_plain_big_base_bytes: size('plain'),
        cli_help_ms: help.ours,
        cli_help_first_ms: help.oursFirst,
        node_floor_ms: help.theirs,
        cli_help_goal: 'cli_help_ms at most 1.5 x node_floor_ms',
        cli_customize_small_ms: small.ours,
        cli_customize_small_first_ms: small.oursFirst,
        cib_pipeline_small_ms: small.theirs,
        cli_customize_small_goal: 'faster than cib_pipeline_small_ms',
        cli_customize_big_ms: big.ours,
        cli_customize_big_first_ms: big.oursFirst,
        cib_pipeline_big_ms: big.theirs,
        cli_customize_big_goal: 'at least 4 x faster than cib_pipeline_big_ms',
        cli_customize_plain_big_ms: plain.ours,
        cli_customize_plain_big_first_ms: plain.oursFirst,
        cib_pipeline_plain_big_ms: plain.theirs,
        cli_customize_plain_big_goal: 'no slower than cib_pipeline_big_ms',
      };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
