// The differential test of the strict archive profile (docs/formats.md, "Strict archive profile"),
// the share `npm test` runs: a few hundred seeded archives made by Python, GNU tar, bsdtar,
// Info-ZIP, 7-Zip and byte-level mutation, every archive trick the profile exists for, our own
// writers' archives, and every archive an earlier fuzz run found a disagreement in. Each must be
// refused by our reader, or extracted by every extractor into exactly the tree our reader reports.
// `npm run fuzz -- --cases N` runs the same at length.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  compareTrees,
  ROOT,
  runBatch,
  runFiles,
  summarize,
  type Outcome,
  type TreeItem,
} from './harness.ts';

/** Seeds and size of the share run in `npm test`: fixed, so a failure is reproducible. */
const SEEDS = [1, 2, 3];
const PER_BATCH = 100;
const FIXTURES = join(ROOT, 'tests/fixtures/differential');

function report(outcomes: Outcome[]): string {
  return outcomes
    .filter((o) => o.verdict === 'disagreed')
    .map(
      (o) =>
        `${o.family} ${o.id}.${o.kind} (${o.note}):\n` +
        Object.entries(o.differences ?? {})
          .map(([name, lines]) => `  ${name}: ${lines.slice(0, 6).join('; ')}`)
          .join('\n'),
    )
    .join('\n');
}

beforeAll(() => {
  // Never skipped: `npm test` installs what is missing first (scripts/ensure-extractors.mjs).
  for (const [tool, args] of [
    ['tar', ['--version']],
    ['bsdtar', ['--version']],
    ['unzip', ['-v']],
    ['7z', ['i']],
    ['python3', ['-c', 'import tarfile; tarfile.data_filter']],
  ] as const) {
    execFileSync(tool, [...args], { stdio: 'ignore' });
  }
});

describe('every archive our reader accepts is extracted alike by every extractor', () => {
  let outcomes: Outcome[] = [];

  beforeAll(async () => {
    const batches = await Promise.all(
      SEEDS.map((seed, i) => runBatch({ seed, count: PER_BATCH, fixed: i === 0 })),
    );
    outcomes = batches.flat();
  }, 900_000);

  it('finds no disagreement in the seeded corpus, the tricks and our own archives', () => {
    expect(report(outcomes)).toBe('');
  });

  it('accepts enough of each kind of archive for the comparison to mean something', () => {
    const table = summarize(outcomes);
    // Real producers' archives of ordinary trees are mostly accepted; mutations mostly not.
    expect(table.tools!.agreed).toBeGreaterThan(SEEDS.length * 10);
    expect(table.python!.agreed).toBeGreaterThan(SEEDS.length * 5);
    expect(table.mutant!.agreed).toBeGreaterThan(SEEDS.length * 2);
    expect(table.mutant!.refused).toBeGreaterThan(SEEDS.length * 15);
    // Every trick refused, every archive our writers make accepted.
    expect(table.trick).toEqual({ refused: 14, agreed: 0, disagreed: 0 });
    expect(table.ours).toEqual({ refused: 0, agreed: 8, disagreed: 0 });
  });
});

describe('archives an earlier fuzz run found a disagreement in', () => {
  it('are now refused or extracted alike', async () => {
    const files = existsSync(FIXTURES)
      ? readdirSync(FIXTURES)
          .filter((name) => /\.(tgz|zip|exe)$/.test(name))
          .map((name) => join(FIXTURES, name))
      : [];
    const outcomes = await runFiles(files);
    expect(report(outcomes)).toBe('');
    expect(outcomes).toHaveLength(files.length);
  }, 300_000);
});

describe('compareTrees', () => {
  const tree: TreeItem[] = [
    ['seattle', 'dir', null],
    ['seattle/a', 'file', 'aa'],
  ];

  it('says nothing for equal trees and names every difference otherwise', () => {
    expect(compareTrees(tree, [...tree])).toEqual([]);
    expect(compareTrees(tree, [tree[0]!])).toEqual(['missing file "seattle/a"']);
    expect(compareTrees(tree, [...tree, ['seattle/b', 'symlink', 'a']])).toEqual([
      'extra symlink "seattle/b" (a)',
    ]);
    expect(compareTrees(tree, [tree[0]!, ['seattle/a', 'file', 'bb']])).toEqual([
      '"seattle/a": file bb instead of file aa',
    ]);
  });
});
