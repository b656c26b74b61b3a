/**
 * The differential test of the strict archive profile (docs/formats.md, "Strict archive
 * profile"): for every archive of a seeded corpus, either our reader refuses it, or every
 * extractor's tree (GNU tar, bsdtar, Python's tarfile with both filters, unzip, Python's zipfile,
 * 7-Zip, bsdtar on a pipe) equals the tree our reader reports: paths, types and bytes. Used by
 * `npm test` (tests/differential/differential.test.ts) and `npm run fuzz`.
 */
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { customizeInstaller } from '../../src/core/archive/installer.ts';
import { checkExecutable } from '../../src/core/archive/exe.ts';
import { walkEntries } from '../../src/core/archive/walk.ts';
import { CibError, type Problem } from '../../src/core/problems.ts';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');
const HERE = join(ROOT, 'tests/differential');
const BIG = 64 << 20;

export type Kind = 'tgz' | 'zip' | 'exe';

export const EXTRACTORS: Record<Kind, string[]> = {
  tgz: ['gnutar', 'bsdtar', 'python-data', 'python-trusted'],
  zip: ['unzip', 'python-zipfile', '7z', 'bsdtar', 'bsdtar-pipe'],
  exe: ['unzip', 'python-zipfile', '7z', 'bsdtar', 'bsdtar-pipe'],
};

/** One item of an extracted tree: a folder, a file with its SHA-256, a link with its target. */
export type TreeItem = [path: string, type: string, detail: string | null];

export type Reading = { refused: Problem[] } | { tree: TreeItem[] };

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * What our reader says an archive holds: refused (with the problems), or the tree every
 * extractor must leave, folders it implies included. An executable inside the profile holds no
 * archive, so no extractor may find anything in it.
 */
export async function ourReading(bytes: Uint8Array, kind: Kind): Promise<Reading> {
  try {
    if (kind === 'exe') {
      checkExecutable(bytes);
      return { tree: [] };
    }
    const items = new Map<string, TreeItem>();
    const folders = (path: string) => {
      for (let at = path.indexOf('/'); at >= 0; at = path.indexOf('/', at + 1)) {
        const folder = path.slice(0, at);
        if (!items.has(folder)) items.set(folder, [folder, 'dir', null]);
      }
    };
    const walked = await walkEntries(
      bytes,
      {
        wantsData: () => true,
        onEntry(entry, data) {
          if (entry.exactPath === '') return;
          folders(entry.exactPath);
          items.set(
            entry.exactPath,
            entry.type === 'directory'
              ? [entry.exactPath, 'dir', null]
              : [entry.exactPath, 'file', sha256(data ?? new Uint8Array(0))],
          );
        },
      },
      { maxEntryBytes: BIG, maxTotalBytes: BIG },
    );
    if (!walked)
      return {
        refused: [
          { code: 'not-an-archive', path: '', message: 'not tgz or zip', severity: 'error' },
        ],
      };
    return { tree: [...items.values()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) };
  } catch (error) {
    if (error instanceof CibError) return { refused: error.problems };
    throw error;
  }
}

/** The differences between two trees, in words; empty when they are equal. */
export function compareTrees(ours: TreeItem[], theirs: TreeItem[]): string[] {
  const mine = new Map(ours.map((item) => [item[0], item]));
  const other = new Map(theirs.map((item) => [item[0], item]));
  const differences: string[] = [];
  for (const [path, item] of mine) {
    const found = other.get(path);
    if (!found) differences.push(`missing ${item[1]} ${JSON.stringify(path)}`);
    else if (found[1] !== item[1] || found[2] !== item[2])
      differences.push(
        `${JSON.stringify(path)}: ${found[1]} ${found[2]} instead of ${item[1]} ${item[2]}`,
      );
  }
  for (const [path, item] of other) {
    if (!mine.has(path))
      differences.push(`extra ${item[1]} ${JSON.stringify(path)}${item[2] ? ` (${item[2]})` : ''}`);
  }
  return differences;
}

export interface Case {
  id: string;
  file: string;
  kind: Kind;
  family: string;
  note: string;
}

export interface Outcome extends Case {
  verdict: 'refused' | 'agreed' | 'disagreed';
  /** The refusal's first problem, for statistics. */
  refusal?: string;
  /** Per extractor, what differs from our tree (or how it failed). */
  differences?: Record<string, string[]>;
  bytes: Uint8Array;
}

interface Extracted {
  status: number | string;
  tree: TreeItem[];
}

/**
 * How extract.py is confined: bubblewrap (the whole file system read-only but the batch's
 * folder), else, as root, the `nobody` user, else nothing (a warning: the corpus keeps its links
 * inside the tree, but a disagreement found by fuzzing could write elsewhere).
 */
let sandbox: string[] | undefined;
function sandboxFor(dir: string): string[] {
  sandbox ??= (() => {
    try {
      execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', 'true'], {
        stdio: 'ignore',
      });
      return ['bwrap'];
    } catch {
      /* no bubblewrap, or no namespaces here */
    }
    if (process.getuid?.() === 0) {
      try {
        execFileSync(
          'setpriv',
          [
            '--reuid=65534',
            '--regid=65534',
            '--clear-groups',
            'python3',
            '-c',
            'import tarfile; tarfile.data_filter',
          ],
          { stdio: 'ignore' },
        );
        return ['setpriv'];
      } catch {
        /* python3 is not usable by nobody */
      }
    }
    console.warn(
      'differential: no sandbox (bubblewrap or root) for the extractors; running them unconfined',
    );
    return [];
  })();
  if (sandbox[0] === 'bwrap') {
    return [
      'bwrap',
      '--ro-bind',
      '/',
      '/',
      '--dev',
      '/dev',
      '--proc',
      '/proc',
      '--bind',
      dir,
      dir,
      '--setenv',
      'TMPDIR',
      dir,
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
    ];
  }
  if (sandbox[0] === 'setpriv') {
    chmodSync(dir, 0o777);
    return ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  }
  return [];
}

async function extractAll(
  dir: string,
  cases: Case[],
): Promise<Record<string, Record<string, Extracted>>> {
  if (cases.length === 0) return {};
  writeFileSync(
    join(dir, 'extract.json'),
    JSON.stringify(cases.map(({ id, file, kind }) => ({ id, file, kind }))),
  );
  const prefix = sandboxFor(dir);
  if (prefix[0] === 'setpriv') {
    for (const c of cases) chmodSync(join(dir, c.file), 0o644);
    chmodSync(join(dir, 'extract.json'), 0o644);
  }
  const command = [...prefix, 'python3', join(HERE, 'extract.py'), dir];
  const { stdout } = await run(command[0]!, command.slice(1), { maxBuffer: 1 << 28 });
  return JSON.parse(stdout) as Record<string, Record<string, Extracted>>;
}

/** Our own writers' archives: the demo bases and an installer customised from each. */
async function ourCases(dir: string): Promise<Case[]> {
  const cases: Case[] = [];
  const vesselinfo = 'Percent 80\nOwner 65537 3233\nPercent 20\nOwner 65537 3233';
  for (const [file, kind] of [
    ['seattle_linux.tgz', 'tgz'],
    ['seattle_mac.tgz', 'tgz'],
    ['seattle_win.zip', 'zip'],
    ['seattle_android.zip', 'zip'],
  ] as const) {
    const base = readFileSync(join(ROOT, 'base-installers', file));
    const custom = await customizeInstaller({ base, vesselinfo });
    for (const [id, bytes] of [
      [`ours-${file}`, base],
      [`ours-custom-${file}`, custom],
    ] as const) {
      writeFileSync(join(dir, id), bytes);
      cases.push({
        id,
        file: id,
        kind,
        family: 'ours',
        note: 'make-base demo base / customize output',
      });
    }
  }
  return cases;
}

export interface BatchOptions {
  seed: number;
  count: number;
  /** Also the archive tricks (tests/python/profile_tricks.py) and our own writers' archives. */
  fixed?: boolean;
}

/** One batch: the corpus made by one Python process, our reader, then one sandboxed extraction. */
export async function runBatch(options: BatchOptions): Promise<Outcome[]> {
  const dir = mkdtempSync(join(tmpdir(), `cib-differential-${options.seed}-`));
  try {
    await run(
      'python3',
      [
        join(HERE, 'corpus.py'),
        '--seed',
        String(options.seed),
        '--count',
        String(options.count),
        '--out',
        dir,
        ...(options.fixed ? ['--tricks'] : []),
      ],
      { maxBuffer: 1 << 24 },
    );
    const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Case[];
    if (options.fixed) cases.push(...(await ourCases(dir)));
    return await judge(dir, cases);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Judges archives saved elsewhere (the fixtures of earlier disagreements), by file name. */
export async function runFiles(files: string[]): Promise<Outcome[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cib-differential-files-'));
  try {
    const cases: Case[] = files.map((file, i) => {
      const kind = file.split('.').pop() as Kind;
      const name = `f${i}.${kind}`;
      writeFileSync(join(dir, name), readFileSync(file));
      return { id: name, file: name, kind, family: 'fixture', note: file };
    });
    return await judge(dir, cases);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Our reader on every case, then the extractors on those it accepts, then the comparison. */
async function judge(dir: string, cases: Case[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const accepted: Case[] = [];
  const readings = new Map<string, TreeItem[]>();
  for (const c of cases) {
    const bytes = new Uint8Array(readFileSync(join(dir, c.file)));
    const reading = await ourReading(bytes, c.kind);
    if ('refused' in reading) {
      const first = reading.refused[0];
      outcomes.push({ ...c, bytes, verdict: 'refused', ...(first ? { refusal: first.code } : {}) });
    } else {
      readings.set(c.id, reading.tree);
      accepted.push(c);
      outcomes.push({ ...c, bytes, verdict: 'agreed' });
    }
  }
  const extracted = await extractAll(dir, accepted);
  for (const outcome of outcomes) {
    if (outcome.verdict !== 'agreed') continue;
    const ours = readings.get(outcome.id)!;
    const differences: Record<string, string[]> = {};
    for (const name of EXTRACTORS[outcome.kind]) {
      const result = extracted[outcome.id]?.[name];
      if (!result) {
        differences[name] = ['the extractor did not run'];
        continue;
      }
      const found = compareTrees(ours, result.tree);
      // An executable inside the profile holds no archive: unzip and the rest must fail on it.
      if (result.status !== 0 && outcome.kind !== 'exe')
        found.unshift(`exit status ${result.status}`);
      if (found.length) differences[name] = found;
    }
    if (Object.keys(differences).length) {
      outcome.verdict = 'disagreed';
      outcome.differences = differences;
    }
  }
  return outcomes;
}

/** Counts by family and verdict, for the report. */
export function summarize(outcomes: Outcome[]): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const o of outcomes) {
    const row = (table[o.family] ??= { refused: 0, agreed: 0, disagreed: 0 });
    row[o.verdict] = (row[o.verdict] ?? 0) + 1;
  }
  return table;
}
