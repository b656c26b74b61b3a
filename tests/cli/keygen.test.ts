import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/host/deployment.ts';

const CHECK_KEYPAIR = join(PROJECT_ROOT, 'tests/python/check_keypair.py');
let dir: string;

function cib(args: string[], options: { umask?: string; env?: Record<string, string> } = {}) {
  // Through sh so a test can set the umask the files are created under.
  const script = `umask ${options.umask ?? '022'}; exec node bin/cib.cjs keygen "$@"`;
  return spawnSync('sh', ['-c', script, 'sh', ...args], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: { ...process.env, DEFAULT_KEY_BITS: '', ...options.env },
  });
}

function python(args: string[], input?: string) {
  return spawnSync('python3', [CHECK_KEYPAIR, ...args], { encoding: 'utf8', input });
}

const mode = (file: string) => statSync(file).mode & 0o777;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cib-keygen-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('cib keygen', () => {
  it('prints a sound key pair as JSON on stdout', () => {
    const run = cib(['--bits', '1024']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, string>;
    expect(Object.keys(json).sort()).toEqual(['private_key', 'public_key']);
    expect(json.public_key).toMatch(/^65537 [0-9]+$/);
    const check = python(['--json', '-', '--bits', '1024'], run.stdout);
    expect(check.stdout).toContain('OK: 1024-bit key pair');
    expect(check.status).toBe(0);
  });

  it('makes 2048-bit keys by default and honours DEFAULT_KEY_BITS', () => {
    const byDefault = cib([]);
    expect(python(['--json', '-', '--bits', '2048'], byDefault.stdout).status).toBe(0);
    const configured = cib([], { env: { DEFAULT_KEY_BITS: '1024' } });
    expect(python(['--json', '-', '--bits', '1024'], configured.stdout).status).toBe(0);
  });

  it('writes NAME.publickey and a 0600 NAME.privatekey that Python confirms', () => {
    const out = join(dir, 'written', 'keys');
    const run = cib(['--bits', '1024', '--name', 'alex', '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const publicFile = join(out, 'alex.publickey');
    const privateFile = join(out, 'alex.privatekey');
    expect(mode(privateFile)).toBe(0o600);
    expect(mode(publicFile)).toBe(0o644);
    const publicKey = readFileSync(publicFile, 'utf8');
    const privateKey = readFileSync(privateFile, 'utf8');
    expect(publicKey).toMatch(/^65537 [0-9]+$/);
    expect(privateKey).toMatch(/^[0-9]+ [0-9]+ [0-9]+$/);
    expect(run.stdout).toContain('alex.publickey');
    expect(run.stdout).toMatch(/fingerprint [0-9a-f]{4}(:[0-9a-f]{4}){3}/);
    expect(run.stdout).not.toContain(privateKey.split(' ')[0]);
    const check = python(['--public', publicFile, '--private', privateFile, '--bits', '1024']);
    expect(check.stdout).toContain('OK');
    expect(check.status).toBe(0);
  });

  it('creates the private key 0600 even under umask 000', () => {
    const out = join(dir, 'umask');
    const run = cib(['--bits', '1024', '--name', 'bob', '--out', out], { umask: '000' });
    expect(run.status).toBe(0);
    expect(mode(join(out, 'bob.privatekey'))).toBe(0o600);
  });

  it('refuses to overwrite a key pair, and replaces it with --force', () => {
    const out = join(dir, 'again');
    expect(cib(['--bits', '1024', '--name', 'carl', '--out', out]).status).toBe(0);
    const privateFile = join(out, 'carl.privatekey');
    const before = readFileSync(privateFile, 'utf8');

    const refused = cib(['--bits', '1024', '--name', 'carl', '--out', out]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('carl.privatekey: The file already exists; use --force');
    expect(readFileSync(privateFile, 'utf8')).toBe(before);

    chmodSync(privateFile, 0o644);
    const forced = cib(['--bits', '1024', '--name', 'carl', '--out', out, '--force']);
    expect(forced.status).toBe(0);
    expect(readFileSync(privateFile, 'utf8')).not.toBe(before);
    expect(mode(privateFile)).toBe(0o600);
    expect(python(['--public', join(out, 'carl.publickey'), '--private', privateFile]).status).toBe(
      0,
    );
  });

  it('refuses when only the public key file exists, writing nothing', () => {
    const out = join(dir, 'half');
    expect(cib(['--bits', '1024', '--name', 'dora', '--out', out]).status).toBe(0);
    rmSync(join(out, 'dora.privatekey'));
    writeFileSync(join(out, 'dora.publickey'), 'keep me');
    const run = cib(['--bits', '1024', '--name', 'dora', '--out', out]);
    expect(run.status).toBe(1);
    expect(readFileSync(join(out, 'dora.publickey'), 'utf8')).toBe('keep me');
    expect(() => statSync(join(out, 'dora.privatekey'))).toThrow();
  });

  it.each([
    [['--bits', '1000'], '--bits must be one of 1024, 2048, 3072, 4096'],
    [['--bits', '2048.0'], '--bits must be one of'],
    [['--out', 'somewhere'], '--out needs --name'],
    [['--name', 'alex'], 'only go with --out'],
    [['--name', '../x', '--out', 'somewhere'], '--name "../x"'],
    [['--name', 'ab', '--out', 'somewhere'], '--name "ab"'],
    [['--colour'], 'Unknown option'],
  ])('exits 2 for the usage error %j', (args, message) => {
    const run = cib(args);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('Usage: cib keygen');
  });

  it('exits 2 for a bad DEFAULT_KEY_BITS', () => {
    const run = cib([], { env: { DEFAULT_KEY_BITS: '512' } });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('DEFAULT_KEY_BITS must be one of');
  });

  it('prints its help with exit 0', () => {
    const run = cib(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: cib keygen [--bits N] [--name NAME --out DIR [--force]]');
  });
});
