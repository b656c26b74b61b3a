/**
 * `cib inspect` and `cib customize` on bases changed with real tools: the software verdict, its
 * exit code, and the refusal (no output file) of a base whose software is not what a trusted key
 * signed. The demo key is trusted only for bases in the demo deployment's folder (docs/keys.md).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeSoftwareCases, type CaseFiles } from '../support/software-cases.ts';
import { BASES, runCib, tempDir } from '../support/tools.ts';

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
  it('a demo base in its deployment is signed by the demo update key, trusted there', () => {
    const run = runCib(['inspect', join(BASES, 'seattle_linux.tgz')], { env: env() });
    expect(run.stdout).toMatch(
      /Software: Seattle software signed by the demo update key \(its private key is public: for demonstrations only\) \([0-9a-f:]{19}\), \d+ files intact, signed on 2025-01-01/,
    );
    expect(run.stdout).toMatch(/unsigned +seattle\/install\.sh +sha256 [0-9a-f]{64}/);
    expect(run.stdout).toContain('note: 1 file is not covered by the signature');
  });

  it('the same bytes outside that folder are red: the demo key is trusted nowhere else', () => {
    const run = runCib(['inspect', cases.file('made', 'seattle_linux.tgz')], { env: env() });
    expect(run.stdout).toContain('Software: Untrusted key: signed by the demo update key');
    expect(run.stderr).toContain('no setting can trust it');
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

  it('another key is red with its fingerprint and how to trust it, and green once --update-key names it', () => {
    const file = cases.file('other-key', 'seattle_linux.tgz');
    // A base has no vesselinfo, so inspect exits 1 either way: the verdict is what counts here.
    const untrusted = runCib(['inspect', file, '--json'], { env: env() });
    const report = JSON.parse(untrusted.stdout).software;
    expect(report).toMatchObject({ verdict: 'untrusted-key', key: { trusted: false } });
    const text = runCib(['inspect', file], { env: env() });
    expect(text.stdout).toContain(
      `Untrusted key: signed by an update key this deployment does not trust (${report.key.fingerprint})`,
    );
    expect(text.stderr).toMatch(/UPDATE_KEYS.*--update-key FILE.*config\.json/);
    const trusted = runCib(['inspect', file, '--json', '--update-key', cases.otherKey], {
      env: env(),
    });
    expect(JSON.parse(trusted.stdout).software).toMatchObject({
      verdict: 'intact',
      key: { trusted: true, label: `the key in ${cases.otherKey}` },
    });
  });

  it('--update-key and UPDATE_KEYS refuse the demo key', () => {
    const file = cases.file('made', 'seattle_linux.tgz');
    const flag = runCib(
      ['inspect', file, '--update-key', join(BASES, '../demo/update-keys/demo.publickey')],
      {
        env: env(),
      },
    );
    expect(flag.status).toBe(1);
    expect(flag.stderr).toContain('This is the demo update key');
    const variable = runCib(['inspect', file], {
      env: env({
        UPDATE_KEYS: readFileSync(join(BASES, '../demo/update-keys/demo.publickey'), 'utf8'),
      }),
    });
    expect(variable.status).toBe(1);
    expect(variable.stderr).toContain('UPDATE_KEYS: line 1: This is the demo update key');
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

  it.each(['signature', 'not-signed', 'unlisted', 'other-key', 'made'] as const)(
    'refuses the %s base (the demo key is not trusted outside its deployment)',
    (name) => {
      const { run, out } = customize(name, 'seattle_linux.tgz');
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('The base installer is refused');
      expect(existsSync(out)).toBe(false);
    },
  );

  it('builds a base signed by a key UPDATE_KEYS trusts, reporting its notes', () => {
    const trusted = customize(
      'other-key',
      'seattle_linux.tgz',
      [],
      env({ UPDATE_KEYS: readFileSync(cases.otherKey, 'utf8').trim() }),
    );
    expect(trusted.run.status, trusted.run.stderr).toBe(0);
    expect(trusted.run.stderr).toContain(
      'Seattle software signed by an update key this deployment trusts',
    );
    expect(trusted.run.stderr).toMatch(/unsigned +seattle\/install\.sh +sha256 [0-9a-f]{64}/);
    expect(existsSync(trusted.out)).toBe(true);
  });

  it('builds the demo base inside the demo deployment, with nothing set', () => {
    const out = join(tempDir(), 'seattle_win.zip');
    const run = runCib(
      ['customize', '--base', join(BASES, 'seattle_win.zip'), '--config', config, '--out', out],
      { env: env() },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain('signed by the demo update key');
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
    expect(bad.status).toBe(1);
    const good = runCib(
      ['prepare-base', cases.file('other-key', 'seattle_linux.tgz'), '--out', out],
      {
        env: env({ UPDATE_KEYS: readFileSync(cases.otherKey, 'utf8').trim() }),
      },
    );
    expect(good.status).toBe(0);
    expect(good.stdout).toMatch(
      /Software: Seattle software signed by an update key this deployment trusts/,
    );
  });
});
