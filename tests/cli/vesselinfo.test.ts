import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePrivateKey, parsePublicKey, privateKeyMatches } from '../../src/core/keys.ts';
import { findJsonError } from '../../src/cli/cli-settings.ts';
import { PROJECT_ROOT } from '../../src/host/deployment.ts';
import { RESERVED_KEY_FIXTURE, runCib } from '../support/tools.ts';

const KEY_A = `65537 ${2n ** 2047n + 12345n}`;
const KEY_B = `3 ${2n ** 2047n + 999n}`;
const KEY_C = `7 ${2n ** 1500n + 1n}`;
const RESERVED_FILE_KEY = RESERVED_KEY_FIXTURE;
const READER = resolve(PROJECT_ROOT, 'tests/python/read_vesselinfo.py');

const dir = mkdtempSync(join(tmpdir(), 'cib-vesselinfo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The environment without any reserved-key setting, so the default file is used. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.RESERVED_KEY;
  delete env.RESERVED_KEY_FILE;
  delete env.RESERVED_SHARE;
  delete env.DEFAULT_KEY_BITS;
  return env;
}

function cib(...args: string[]) {
  const run = runCib(args, { env: cleanEnv() });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function python(file: string) {
  const run = spawnSync('python3', [READER, file], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('cib vesselinfo', () => {
  it('prints a vesselinfo the Python reader accepts, with the reserved key from the spec file', () => {
    const config = file(
      'full.json',
      JSON.stringify({
        vessels: [
          { percentage: 60, owner: 'alex', users: ['bob', 'bob'] },
          { percentage: 20, owner: 'carl' },
        ],
        user_data: {
          alex: { public_key: KEY_A },
          bob: { public_key: KEY_B },
          carl: { public_key: KEY_C },
        },
      }),
    );
    const { code, stdout, stderr } = cib('vesselinfo', '--config', config);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(
      [
        'Percent 60',
        `Owner ${KEY_A}`,
        `User ${KEY_B}`,
        'Percent 20',
        `Owner ${KEY_C}`,
        'Percent 20',
        `Owner ${RESERVED_FILE_KEY}`,
      ].join('\n') + '\n',
    );

    const written = file('full.vesselinfo', stdout);
    const read = python(written);
    expect(read.stderr).toBe('');
    expect(read.code).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual([
      { percent: 60, owner: KEY_A, users: [KEY_B], name: 'v1', ports: [63100, 63159] },
      { percent: 20, owner: KEY_C, users: [], name: 'v2', ports: [63160, 63179] },
      { percent: 20, owner: RESERVED_FILE_KEY, users: [], name: 'v3', ports: [63180, 63199] },
    ]);

    const checked = cib('check-vesselinfo', written);
    expect(checked.code).toBe(0);
    expect(checked.stdout.split('\n')[0]).toMatch(
      /^v1 +60% ports 63100-63159 owner [0-9a-f:]{19} users [0-9a-f:]{19}$/,
    );
  });

  it('exits 1 naming users without a key when --keys-out is missing, printing no key', () => {
    const config = file(
      'missing.json',
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex', users: ['bob'] }],
        user_data: { alex: { public_key: KEY_A } },
      }),
    );
    const { code, stdout, stderr } = cib('vesselinfo', '--config', config);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('"bob"');
    expect(stderr).toContain('--keys-out');
  });

  it('writes generated key pairs to --keys-out, the private key mode 0600, and never prints it', () => {
    const config = file(
      'generate.json',
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex', users: ['bob'] }],
        user_data: { alex: { public_key: KEY_A } },
      }),
    );
    const keys = join(dir, 'keys');
    const { code, stdout, stderr } = cib(
      'vesselinfo',
      '--config',
      config,
      '--keys-out',
      keys,
      '--bits',
      '1024',
    );
    expect(code).toBe(0);
    const publicKey = readFileSync(join(keys, 'bob.publickey'), 'utf8');
    const privateKey = readFileSync(join(keys, 'bob.privatekey'), 'utf8');
    expect(statSync(join(keys, 'bob.privatekey')).mode & 0o777).toBe(0o600);
    expect(
      privateKeyMatches(parsePublicKey(publicKey).key!, parsePrivateKey(privateKey).key!),
    ).toBe(true);
    expect(stdout).toContain(`User ${publicKey}\n`);
    for (const part of privateKey.split(' ')) {
      expect(stdout).not.toContain(part);
      expect(stderr).not.toContain(part);
    }
    const read = python(file('generated.vesselinfo', stdout));
    expect(read.code).toBe(0);
    expect(JSON.parse(read.stdout)[0].users).toEqual([publicKey]);

    // A second run must not overwrite the only copy of bob's private key.
    const again = cib('vesselinfo', '--config', config, '--keys-out', keys, '--bits', '1024');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('bob.privatekey');
    expect(readFileSync(join(keys, 'bob.privatekey'), 'utf8')).toBe(privateKey);
  });

  it('exits 1 on keys no RSA key can be (e = 1, even e, even n), naming each field', () => {
    const config = file(
      'unusable-keys.json',
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 'carl'] }],
        user_data: {
          alex: { public_key: `1 ${2n ** 2047n + 1n}` },
          bob: { public_key: `65536 ${2n ** 2047n + 1n}` },
          carl: { public_key: `65537 ${2n ** 2047n}` },
        },
      }),
    );
    const { code, stdout, stderr } = cib('vesselinfo', '--config', config);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain("user_data.alex.public_key: The public key's exponent e is 1");
    expect(stderr).toContain("user_data.bob.public_key: The public key's exponent e is even");
    expect(stderr).toContain("user_data.carl.public_key: The public key's modulus n is even");
  });

  it('exits 1 on invalid JSON, naming the file and the line and column', () => {
    const config = file('broken.json', '{"vessels": [\n  {"percentage": 60 "owner": "x"}]}');
    const { code, stderr } = cib('vesselinfo', '--config', config);
    expect(code).toBe(1);
    expect(stderr).toContain(`${config}:2:21:`);
  });

  it('exits 1 with every problem of an invalid configuration and honours --reserved-share/--reserved-key', () => {
    const config = file(
      'invalid.json',
      JSON.stringify({ vessels: [{ percentage: '60', owner: 'x' }] }),
    );
    const bad = cib('vesselinfo', '--config', config);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('vessels[0].percentage:');
    expect(bad.stderr).toContain('vessels[0].owner:');

    const seventy = file(
      'seventy.json',
      JSON.stringify({
        vessels: [{ percentage: 70, owner: 'alex' }],
        user_data: { alex: { public_key: KEY_A } },
      }),
    );
    const reserved = file('reserved.publickey', `${KEY_C}\n`);
    const ok = cib(
      'vesselinfo',
      '--config',
      seventy,
      '--reserved-share',
      '30',
      '--reserved-key',
      reserved,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`Percent 70\nOwner ${KEY_A}\nPercent 30\nOwner ${KEY_C}\n`);
    expect(cib('vesselinfo', '--config', seventy, '--reserved-share', 'x').code).toBe(2);
  });
});

describe('cib check-vesselinfo and the Python reader', () => {
  const cases: [string, string, string][] = [
    ['a 15% vessel', `Percent 15\nOwner ${KEY_A}\nPercent 85\nOwner ${KEY_B}`, 'line 1: '],
    ['a blank line', `Percent 100\n\nOwner ${KEY_A}`, 'line 2: '],
    ['a lower-case label', `Percent 100\nowner ${KEY_A}`, 'line 2: '],
    ['a total of 90', `Percent 60\nOwner ${KEY_A}\nPercent 30\nOwner ${KEY_B}`, 'line 3: '],
  ];
  it.each(cases)('both reject %s', (_name, text, where) => {
    const path = file('case.vesselinfo', text);
    const checked = cib('check-vesselinfo', path);
    expect(checked.code).toBe(1);
    expect(checked.stdout).toBe('');
    expect(checked.stderr.split('\n')[0]).toMatch(new RegExp(`^${where}\\S`));
    const read = python(path);
    expect(read.code).toBe(1);
    expect(read.stderr).not.toBe('');
  });

  it('is a usage error without exactly one file', () => {
    expect(cib('check-vesselinfo').code).toBe(2);
  });
});

describe('findJsonError (jsonc-parser, strict)', () => {
  it('finds nothing in text JSON.parse accepts', () => {
    for (const text of [
      '{}',
      ' [1, -2.5e3, "a\\u00e9\\n", true, false, null, {"a": []}] ',
      '"x"',
      '0',
    ]) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(findJsonError(text)).toBeUndefined();
    }
  });

  it.each([
    ['{"a": 1,}', 8, 'a member name in double quotes'],
    ['[1 2]', 3, '","'],
    ['{"a" 1}', 5, '":"'],
    ['{"a": 01}', 7, '","'],
    ["{'a': 1}", 1, 'a value'],
    ['{"a": tru}', 6, 'a value'],
    ['{"a": "x', 6, "a closing '\"'"],
    ['{} x', 3, 'a value'],
    ['{"a": 1 // note\n}', 8, 'no comment (JSON has none)'],
    ['', 0, 'a value'],
  ])('locates the mistake in %s', (text, offset, expected) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(findJsonError(text)).toEqual({ offset, expected });
  });
});
