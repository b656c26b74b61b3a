import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { customizeTgz, writeAppendReadyTgz } from '../src/core/archive/tgz.ts';
import { timeMedian } from './stats.ts';
import type { BenchSuite } from './suites.ts';
import { syntheticTree } from './synthetic.ts';

const RUNS = 5;
const MTIME = 1_700_000_000;
const VESSELINFO =
  'Percent 80\nOwner 65537 1234\nUser 65537 5678\nPercent 20\nOwner 3 55\nUser 3 55';

/**
 * Python's tarfile `w:gz`: the way operators' bases are written (docs/formats.md#base-installers).
 */
function pythonTarfileBase(dir: string): Uint8Array {
  const out = join(dir, 'python.tgz');
  execFileSync('python3', [
    '-c',
    'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1] + "/seattle", arcname="seattle")',
    dir,
    out,
  ]);
  return readFileSync(out);
}

/** The old service: gunzip the whole archive, `tar -r` the vesselinfo, gzip it again. */
function oldWay(dir: string, base: Uint8Array): Uint8Array {
  const work = mkdtempSync(join(dir, 'cib-'));
  try {
    writeFileSync(join(work, 'base.tgz'), base);
    mkdirSync(join(work, 'add/seattle/seattle_repy'), { recursive: true });
    writeFileSync(join(work, 'add/seattle/seattle_repy/vesselinfo'), VESSELINFO);
    execFileSync(
      'sh',
      [
        '-c',
        'gzip -dc base.tgz > out.tar && tar -rf out.tar -C add seattle/seattle_repy/vesselinfo && gzip -c out.tar > out.tgz',
      ],
      { cwd: work },
    );
    return readFileSync(join(work, 'out.tgz'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export const tgzSuite: BenchSuite = {
  name: 'tgz',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bench-tgz-'));
    try {
      const tree = syntheticTree();
      for (const file of tree) {
        const path = join(dir, file.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file.data, { mode: file.mode });
      }
      const ready = writeAppendReadyTgz(
        tree.map((f) => ({ path: f.path, data: f.data, mode: f.mode, mtime: MTIME })),
      );
      const generic = pythonTarfileBase(dir);
      const genericOut = customizeTgz(generic, VESSELINFO);
      return {
        tgz_base_bytes: ready.length,
        tgz_python_base_bytes: generic.length,
        tgz_generic_out_bytes: genericOut.length,
        copy_ms: await timeMedian(RUNS, () => ready.slice()),
        tgz_ready_ms: await timeMedian(RUNS, () =>
          customizeTgz(ready, VESSELINFO, { baseVerified: true }),
        ),
        tgz_ready_crc_ms: await timeMedian(RUNS, () => customizeTgz(ready, VESSELINFO)),
        // The base's entries already walked (checkBase) for these verified bytes: a splice only.
        tgz_ready_checked_ms: await timeMedian(RUNS, () =>
          customizeTgz(ready, VESSELINFO, { baseVerified: true, knownClean: true }),
        ),
        tgz_generic_ms: await timeMedian(RUNS, () => customizeTgz(generic, VESSELINFO)),
        tgz_cib_ms: await timeMedian(RUNS, () => oldWay(dir, generic)),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
