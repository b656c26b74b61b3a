import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCib, runCustomize, tempDir } from '../support/tools.ts';

let dir: string;

beforeAll(() => {
  dir = tempDir('cib-inspect-');
  execFileSync('python3', [join(ROOT, 'tests/python/hostile_archives.py'), dir]);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      vessels: [{ percentage: 80, owner: 'alex' }],
      user_data: { alex: { public_key: '17 3233' } },
    }),
  );
});

describe('cib inspect on hostile installers', () => {
  it('names the entry and the rule of an archive outside the strict profile, and exits 1', () => {
    const run = runCib(['inspect', join(dir, 'dot.tgz')]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('AMBIGUOUS');
    expect(run.stdout).not.toContain('will accept');
    expect(run.stderr).toContain(
      'seattle/./seattle_repy/vesselinfo: The entry "seattle/./seattle_repy/vesselinfo" has a "." path component',
    );
  });

  it('names every vesselinfo entry when more than one is inside the profile', () => {
    const run = runCib(['inspect', join(dir, 'folder-vesselinfo.tgz')]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('AMBIGUOUS');
    expect(run.stderr).toContain(
      'seattle/seattle_repy/vesselinfo/: The entry "seattle/seattle_repy/vesselinfo/" extracts to seattle/seattle_repy/vesselinfo but is a directory',
    );
  });

  it('says so in --json', () => {
    const run = runCib(['inspect', '--json', join(dir, 'backslash.zip')]);
    expect(run.status).toBe(1);
    const inspection = JSON.parse(run.stdout) as {
      ambiguous: boolean;
      valid: boolean;
      problems: { code: string; path: string }[];
    };
    expect(inspection).toMatchObject({ ambiguous: true, valid: false });
    expect(inspection.problems.map((p) => [p.code, p.path])).toEqual([
      ['base.profile.name', 'seattle\\seattle_repy\\vesselinfo'],
    ]);
  });

  it('refuses a 1 MB tgz of 1 GiB of zeros at the cap, streaming it from disk', () => {
    const run = runCib(['inspect', join(dir, 'bomb.tgz')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('The archive inflates to more than 128 MiB');
  });

  it('refuses a zip entry declaring gigabytes, naming it', () => {
    const run = runCib(['inspect', join(dir, 'huge-declared.zip')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('seattle/seattle_repy/vesselinfo: This entry holds 4294967280');
  });
});

/** `cib customize` from the hostile base `file`: refused with every sentence, nothing written. */
function refusesToCustomize(file: string, sentences: string[]): void {
  const out = join(dir, `out-${file}`);
  const run = runCustomize({ base: join(dir, file), config: join(dir, 'config.json'), out });
  for (const sentence of sentences) expect(run.stderr).toContain(sentence);
  expect(run.status).toBe(1);
  expect(existsSync(out)).toBe(false);
  expect(readdirSync(dir).filter((name) => name.includes('out-'))).toEqual([]);
}

describe('cib customize on an ambiguous base', () => {
  it.each(['dot.tgz', 'symlink.tgz', 'case.zip', 'symlink.zip'])(
    'refuses %s and writes nothing',
    (file) => refusesToCustomize(file, ['Strict archive profile']),
  );
});

describe('cib customize streaming an append-ready base whose marker hides a vesselinfo', () => {
  it.each(['forged-ready.tgz', 'forged-ready-two.tgz'])('refuses %s and writes nothing', (file) =>
    refusesToCustomize(file, ['has a "." path component', 'seattle/./seattle_repy/vesselinfo']),
  );
});
