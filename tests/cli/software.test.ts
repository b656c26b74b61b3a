/**
 * `cib inspect` and `cib customize` on bases changed with real tools: the software verdict,
 * its exit code, and the refusal (no output file) of a base whose software is not what was signed.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSoftwareCases, type CaseFiles } from '../support/software-cases.ts';
import { runCib, tempDir } from '../support/tools.ts';

let cases: CaseFiles;
let config: string;
beforeAll(() => {
  cases = makeSoftwareCases(['seattle_linux.tgz', 'seattle_win.zip']);
  config = join(cases.dir, 'build.json');
  const owner = readFileSync(cases.otherKey, 'utf8').trim();
  writeFileSync(
    config,
    JSON.stringify({
      vessels: [{ percentage: 80, owner: 'alex' }],
      user_data: { alex: { public_key: owner } },
    }),
  );
}, 120_000);

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { UPDATE_KEYS: _k, UPDATE_KEYS_FILE: _f, ...rest } = process.env;
  return { ...rest, ...extra };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('cib inspect: the software section', () => {
  it('a made demo base is signed by the demo update key, listed by default', () => {
    const run = runCib(['inspect', cases.file('made', 'seattle_linux.tgz')], { env: env() });
    expect(run.stdout).toMatch(
      /Software: Seattle software signed by the demo update key \(its private key is public: for demonstrations only\) \([0-9a-f:]{19}\), \d+ files intact, signed on 2025-01-01/,
    );
    expect(run.stdout).toMatch(/other +seattle\/install\.sh +sha256 [0-9a-f]{64}/);
  });

  it('one changed byte: exit 1, "modified" naming nmmain.py, in text and JSON', () => {
    const file = cases.file('modified', 'seattle_win.zip');
    const run = runCib(['inspect', file], { env: env() });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('Software: Modified: 1 file differs from the signed list');
    expect(run.stdout).toContain('modified  seattle/seattle_repy/nmmain.py');
    const json = runCib(['inspect', file, '--json'], { env: env() });
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout).software;
    expect(report).toMatchObject({ verdict: 'modified', modified: ['nmmain.py'], missing: [] });
    expect(report.summary).toMatch(/^Modified/);
  });

  it.each([
    ['signature', 'Signature fails'],
    ['not-signed', 'Not signed'],
  ] as const)('%s: exit 1 with "%s"', (name, words) => {
    const run = runCib(['inspect', cases.file(name, 'seattle_linux.tgz')], { env: env() });
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`Software: ${words}`);
  });

  it('another key is unknown, and known once --update-key names it', () => {
    const file = cases.file('other-key', 'seattle_linux.tgz');
    const unknown = runCib(['inspect', file, '--json'], { env: env() });
    expect(JSON.parse(unknown.stdout).software.key.known).toBe(false);
    const known = runCib(['inspect', file, '--json', '--update-key', cases.otherKey], {
      env: env(),
    });
    expect(JSON.parse(known.stdout).software).toMatchObject({
      verdict: 'intact',
      key: { known: true, label: `the key in ${cases.otherKey}` },
    });
  });
});

describe('cib customize: the software check before the build', () => {
  function customize(
    name: Parameters<CaseFiles['file']>[0],
    base: string,
    extra: string[] = [],
    e = env(),
  ) {
    const file = cases.file(name, base);
    const out = join(tempDir(), base);
    const run = runCib(
      [
        'customize',
        '--base',
        file,
        '--config',
        config,
        '--out',
        out,
        '--expect-sha256',
        sha256(file),
        ...extra,
      ],
      { env: e },
    );
    return { run, out };
  }

  it.each(['seattle_linux.tgz', 'seattle_win.zip'])(
    'refuses a modified %s even though its SHA-256 is the expected one, writing nothing',
    (base) => {
      const { run, out } = customize('modified', base);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('The base installer is refused: Modified');
      expect(run.stderr).toContain('seattle/seattle_repy/nmmain.py');
      expect(existsSync(out)).toBe(false);
    },
  );

  it.each(['signature', 'not-signed', 'unlisted'] as const)('refuses the %s base', (name) => {
    const { run, out } = customize(name, 'seattle_linux.tgz');
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('The base installer is refused');
    expect(existsSync(out)).toBe(false);
  });

  it('builds a base signed by an unknown key with a warning, and without one once the key is known', () => {
    const warned = customize('other-key', 'seattle_linux.tgz');
    expect(warned.run.status).toBe(0);
    expect(warned.run.stderr).toMatch(/warning: Seattle software signed by an unknown key/);
    expect(existsSync(warned.out)).toBe(true);
    const quiet = customize(
      'other-key',
      'seattle_linux.tgz',
      [],
      env({ UPDATE_KEYS: readFileSync(cases.otherKey, 'utf8').trim() }),
    );
    expect(quiet.run.status).toBe(0);
    expect(quiet.run.stderr).not.toContain('warning');
  });

  it('builds the demo base without a warning by default, and warns when UPDATE_KEYS is set empty', () => {
    const plain = customize('made', 'seattle_win.zip');
    expect(plain.run.status).toBe(0);
    expect(plain.run.stderr).not.toContain('warning');
    const strict = customize('made', 'seattle_win.zip', [], env({ UPDATE_KEYS: '' }));
    expect(strict.run.status).toBe(0);
    expect(strict.run.stderr).toContain('warning: Seattle software signed by an unknown key');
  });
});

describe('cib prepare-base: the software check of the prepared base', () => {
  it('reports a modified base by name, and an intact one as signed', () => {
    const out = join(tempDir(), 'prepared.tgz');
    const bad = runCib(
      ['prepare-base', cases.file('modified', 'seattle_linux.tgz'), '--out', out],
      {
        env: env(),
      },
    );
    expect(bad.stdout).toContain('Software: Modified: 1 file differs from the signed list');
    expect(bad.stdout).toContain('modified  seattle/seattle_repy/nmmain.py');
    const good = runCib(['prepare-base', cases.file('made', 'seattle_linux.tgz'), '--out', out], {
      env: env(),
    });
    expect(good.stdout).toMatch(/Software: Seattle software signed by the demo update key/);
  });
});
