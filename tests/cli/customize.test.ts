import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customizeInstaller } from '../../src/core/archive/installer.ts';
import {
  BASES,
  demoManifest,
  extractWithTools,
  RESERVED_KEY_FIXTURE,
  runCib,
  runCustomize,
  tempDir,
} from '../support/tools.ts';
import { testDeployment } from '../support/test-bases.ts';

function configFile(dir: string, config: unknown): string {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

/** One 80% vessel owned by a 2048-bit-sized key: the configuration the base tests share. */
function oneOwner(dir: string): string {
  return configFile(dir, {
    vessels: [{ percentage: 80, owner: 'alex' }],
    user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
  });
}

/** `cib customize` of `base` into `out` with that configuration. */
function customizeOneOwner(dir: string, base: string, out: string, env?: NodeJS.ProcessEnv) {
  return runCustomize({ base, config: oneOwner(dir), out }, env ? { env } : {});
}

describe('cib customize', () => {
  it('writes a linux installer whose demo install.sh --dry-run shows the configured vessels', () => {
    const dir = tempDir();
    const linux = demoManifest().find((b) => b.platform === 'linux')!;
    const config = configFile(dir, {
      vessels: [
        { percentage: 50, owner: 'alex', users: ['bob'] },
        { percentage: 30, owner: 'bob' },
      ],
    });
    const out = join(dir, 'seattle_linux.tgz');
    const run = runCustomize(
      { base: join(BASES, linux.file), config, out },
      {
        args: [
          '--platform',
          'linux',
          '--expect-sha256',
          linux.sha256,
          '--keys-out',
          join(dir, 'keys'),
          '--bits',
          '1024',
        ],
      },
    );
    expect(run.stderr).toContain('wrote');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    expect(readdirSync(join(dir, 'keys')).sort()).toEqual([
      'alex.privatekey',
      'alex.publickey',
      'bob.privatekey',
      'bob.publickey',
    ]);
    expect(statSync(join(dir, 'keys', 'alex.privatekey')).mode & 0o777).toBe(0o600);
    const tree = extractWithTools(out);
    const dry = execFileSync('sh', [join(tree, 'seattle/install.sh'), '--dry-run'], {
      encoding: 'utf8',
    });
    expect(dry).toMatch(/v1\b.*50%/);
    expect(dry).toMatch(/63100.*63149/);
    expect(dry).toMatch(/v3\b.*20%/);
    const vesselinfo = readFileSync(join(tree, 'seattle/seattle_repy/vesselinfo'), 'utf8');
    const alex = readFileSync(join(dir, 'keys', 'alex.publickey'), 'utf8').trim();
    expect(vesselinfo.split('\n').slice(0, 2)).toEqual(['Percent 50', `Owner ${alex}`]);
  });

  it('inspects what it wrote, as text and as JSON', () => {
    const dir = tempDir();
    const config = configFile(dir, {
      vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }],
      user_data: { owner: { public_key: '3 3233' }, user: { public_key: '17 3233' } },
    });
    const out = join(dir, 'seattle_win.zip');
    const windows = demoManifest().find((b) => b.platform === 'windows')!;
    expect(
      runCib(['customize', '--base', join(BASES, windows.file), '--config', config, '--out', out])
        .status,
    ).toBe(0);
    // Outside the demo deployment's folder, the demo key is trusted by nothing: inspect is red.
    const text = runCib(['inspect', out]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain('v1   80%  ports 63100-63179');
    expect(text.stdout).toContain('The node will accept this installer.');
    expect(text.stdout).toContain('Software: Untrusted key: signed by the demo update key');
    expect(text.stderr).toContain('no setting can trust it');
    const json = runCib(['inspect', out, '--json']);
    const inspection = JSON.parse(json.stdout);
    expect(inspection.format).toBe('zip');
    expect(inspection.valid).toBe(true);
    expect(inspection.software).toMatchObject({
      verdict: 'untrusted-key',
      key: { trusted: false, fingerprint: '60af:d27d:1d0a:0b05' },
    });
    expect(inspection.vessels[0]).toMatchObject({
      name: 'v1',
      percent: 80,
      owner: '3 3233',
      users: ['17 3233'],
      ports: [63100, 63179],
    });
    expect(inspection.vessels[1].ports).toEqual([63180, 63199]);
  });

  it('refuses a damaged base with exit 1, a message naming the file, and no output file', () => {
    const dir = tempDir();
    const linux = demoManifest().find((b) => b.platform === 'linux')!;
    const base = readFileSync(join(BASES, linux.file));
    const damaged = join(dir, 'damaged.tgz');
    writeFileSync(damaged, base.subarray(0, base.length - 40));
    const config = configFile(dir, {
      vessels: [{ percentage: 80, owner: 'owner' }],
      user_data: { owner: { public_key: '3 3233' } },
    });
    const out = join(dir, 'out.tgz');
    const run = runCustomize({ base: damaged, config, out });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(damaged);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'damaged.tgz']);

    const mismatch = runCustomize(
      { base: join(BASES, linux.file), config, out },
      { args: ['--expect-sha256', 'f'.repeat(64)] },
    );
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/SHA-256/);
    expect(existsSync(out)).toBe(false);
  });

  it('reports every configuration problem with its field before touching the base', () => {
    const dir = tempDir();
    const config = configFile(dir, { vessels: [{ percentage: 15, owner: 'x' }] });
    const run = runCustomize({
      base: join(BASES, 'seattle_linux.tgz'),
      config,
      out: join(dir, 'o'),
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/vessels\[0\]\.percentage/);
    expect(run.stderr).toMatch(/vessels\[0\]\.owner/);
  });

  it('streams tgz bases and writes exactly the bytes the in-memory engine gives', async () => {
    const dir = tempDir();
    const deployment = testDeployment();
    // A base written the way operators' bases are (Python tarfile w:gz), and a make-base base.
    const tree = extractWithTools(join(deployment.dir, 'seattle_linux.tgz'));
    const pythonBase = join(dir, 'python.tgz');
    execFileSync('python3', [
      '-c',
      'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1] + "/seattle", arcname="seattle")',
      tree,
      pythonBase,
    ]);
    const config = configFile(dir, {
      vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }],
      user_data: { owner: { public_key: '3 3233' }, user: { public_key: '17 3233' } },
    });
    const vesselinfo = `Percent 80\nOwner 3 3233\nUser 17 3233\nPercent 20\nOwner ${RESERVED_KEY_FIXTURE}`;
    for (const base of [pythonBase, join(deployment.dir, 'seattle_linux.tgz')]) {
      const out = join(dir, 'out.tgz');
      const run = runCustomize({ base, config, out }, { env: deployment.env });
      expect(run.status, run.stderr).toBe(0);
      const expected = await customizeInstaller({
        base: new Uint8Array(readFileSync(base)),
        vesselinfo,
      });
      expect(readFileSync(out).equals(Buffer.from(expected)), base).toBe(true);
    }
    const malformed = runCustomize(
      { base: pythonBase, config, out: join(dir, 'x.tgz') },
      { args: ['--expect-sha256', 'abc'] },
    );
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toMatch(/64 hex digits/);
    expect(existsSync(join(dir, 'x.tgz'))).toBe(false);
  });

  it('treats bad words as usage errors (exit 2)', () => {
    expect(runCib(['customize', '--config', 'x.json', '--out', 'o']).status).toBe(2);
    expect(
      runCustomize({ base: 'b', config: 'c', out: 'o' }, { args: ['--platform', 'beos'] }).status,
    ).toBe(2);
    expect(runCib(['inspect']).status).toBe(2);
    expect(runCib(['customize', '--help']).stdout).toContain('Usage: cib customize');
  });

  it('inspect exits 1 on a base that carries no vesselinfo, saying so', () => {
    const run = runCib(['inspect', join(BASES, 'seattle_android.zip')]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/no vesselinfo/);
  });

  describe('without --expect-sha256', () => {
    it('checks the base against the manifest.json beside it and says so', () => {
      const dir = tempDir();
      const out = join(dir, 'seattle_linux.tgz');
      const run = customizeOneOwner(dir, join(BASES, 'seattle_linux.tgz'), out);
      expect(run.status).toBe(0);
      expect(run.stderr).toContain(
        `base check: its SHA-256 against ${join(BASES, 'manifest.json')} (linux)`,
      );
      const tree = extractWithTools(out);
      expect(readFileSync(join(tree, 'seattle/seattle_repy/vesselinfo'), 'utf8')).toMatch(
        /^Percent 80\nOwner 65537 /,
      );
    });

    it('refuses a base whose bytes are not what the manifest beside it lists, writing nothing', () => {
      const dir = tempDir();
      cpSync(BASES, join(dir, 'bases'), { recursive: true });
      // Same format, other bytes: the android base under the windows name.
      cpSync(join(BASES, 'seattle_android.zip'), join(dir, 'bases/seattle_win.zip'));
      const out = join(dir, 'out.zip');
      const run = customizeOneOwner(dir, join(dir, 'bases/seattle_win.zip'), out);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/SHA-256 is [0-9a-f]{64}, not the expected [0-9a-f]{64}/);
      expect(existsSync(out)).toBe(false);
    });

    it('takes the SHA-256 from a first read when no manifest lists the base, and says so', () => {
      const dir = tempDir();
      const deployment = testDeployment();
      cpSync(join(deployment.dir, 'seattle_mac.tgz'), join(dir, 'seattle_mac.tgz'));
      const out = join(dir, 'out.tgz');
      const run = customizeOneOwner(dir, join(dir, 'seattle_mac.tgz'), out, deployment.env);
      expect(run.status).toBe(0);
      expect(run.stderr).toContain('base check: no manifest.json beside the base');
      execFileSync('tar', ['-tzf', out]);
    });
  });

  describe('the base checks kept by SHA-256', () => {
    it('walks a base once, then reuses its check for the same bytes, with the same output', () => {
      const dir = tempDir();
      const env = { ...process.env, CIB_CACHE_DIR: join(dir, 'cache') };
      const base = join(BASES, 'seattle_linux.tgz');
      const first = customizeOneOwner(dir, base, join(dir, 'a.tgz'), env);
      expect(first.status).toBe(0);
      expect(first.stderr).toContain('software and vesselinfo check: walked the base');
      const second = customizeOneOwner(dir, base, join(dir, 'b.tgz'), env);
      expect(second.status).toBe(0);
      expect(second.stderr).toMatch(/check: kept from an earlier run for SHA-256 [0-9a-f]{64}/);
      expect(readFileSync(join(dir, 'b.tgz')).equals(readFileSync(join(dir, 'a.tgz')))).toBe(true);
      execFileSync('tar', ['-tzf', join(dir, 'b.tgz')]);
    });

    it('keeps nothing when CIB_CACHE_DIR is empty', () => {
      const dir = tempDir();
      const env = { ...process.env, CIB_CACHE_DIR: '' };
      for (const out of ['a.tgz', 'b.tgz']) {
        const run = customizeOneOwner(dir, join(BASES, 'seattle_mac.tgz'), join(dir, out), env);
        expect(run.status).toBe(0);
        expect(run.stderr).toContain('walked the base');
      }
    });

    it('copies an unchanged file without hashing it, and hashes one rewritten in place or replaced', async () => {
      const dir = tempDir();
      const deployment = testDeployment();
      const env = { ...deployment.env, CIB_CACHE_DIR: join(dir, 'cache') };
      const base = join(dir, 'seattle_linux.tgz');
      cpSync(join(deployment.dir, 'seattle_linux.tgz'), base);
      cpSync(join(deployment.dir, 'manifest.json'), join(dir, 'manifest.json'));
      const good = readFileSync(base);
      // A stamp is kept only for a file whose times are 2 s in the past (README, "cib customize").
      await new Promise((done) => setTimeout(done, 2100));
      const run = (out: string) => customizeOneOwner(dir, base, join(dir, out), env);
      const first = run('a.tgz');
      expect(first.status).toBe(0);
      expect(first.stderr).toContain('walked the base');
      const [kept] = readdirSync(join(dir, 'cache')).filter((f) => f.endsWith('.json'));
      const { stamps } = JSON.parse(readFileSync(join(dir, 'cache', kept!), 'utf8'));
      const { dev, ino, size } = statSync(base, { bigint: true });
      expect(stamps).toEqual([expect.stringMatching(`^${dev}:${ino}:${size}:`)]);
      const second = run('b.tgz');
      expect(second.status).toBe(0);
      expect(second.stderr).toContain('unchanged since its SHA-256 was checked');
      expect(readFileSync(join(dir, 'b.tgz')).equals(readFileSync(join(dir, 'a.tgz')))).toBe(true);

      // One byte changed in place, same size, its modification time put back: only the time of
      // status change tells, and the copy is hashed and refused.
      const { atime, mtime } = statSync(base);
      const changed = Buffer.from(good);
      changed[changed.length >> 1]! ^= 0xff;
      writeFileSync(base, changed);
      utimesSync(base, atime, mtime);
      const inPlace = run('c.tgz');
      expect(inPlace.status).toBe(1);
      expect(inPlace.stderr).toMatch(/SHA-256 is [0-9a-f]{64}, not the expected/);
      expect(inPlace.stderr).not.toContain('not hashed again');
      expect(existsSync(join(dir, 'c.tgz'))).toBe(false);

      // Another file renamed over it, with the same size and times.
      writeFileSync(base, good);
      writeFileSync(`${base}.new`, changed);
      utimesSync(`${base}.new`, atime, mtime);
      renameSync(`${base}.new`, base);
      const replaced = run('d.tgz');
      expect(replaced.status).toBe(1);
      expect(replaced.stderr).toMatch(/SHA-256 is [0-9a-f]{64}, not the expected/);
      expect(existsSync(join(dir, 'd.tgz'))).toBe(false);
    });

    it('never reuses a check for other bytes: a changed base without a manifest is walked and refused', () => {
      const dir = tempDir();
      const env = { ...testDeployment().env, CIB_CACHE_DIR: join(dir, 'cache') };
      const good = join(dir, 'good', 'seattle_linux.tgz');
      execFileSync('mkdir', ['-p', join(dir, 'good'), join(dir, 'tree')]);
      cpSync(join(testDeployment().dir, 'seattle_linux.tgz'), good);
      expect(customizeOneOwner(dir, good, join(dir, 'a.tgz'), env).status).toBe(0);
      // The same files with one program file changed, repacked by GNU tar.
      execFileSync('tar', ['-xzf', good, '-C', join(dir, 'tree')]);
      const program = join(dir, 'tree/seattle/seattle_repy');
      const victim = readdirSync(program).find((f) => f.endsWith('.py'))!;
      writeFileSync(join(program, victim), 'print("not Seattle")\n');
      const bad = join(dir, 'seattle_linux.tgz');
      execFileSync('tar', ['-czf', bad, '-C', join(dir, 'tree'), 'seattle']);
      const run = customizeOneOwner(dir, bad, join(dir, 'b.tgz'), env);
      // Refused for what it is: the good base's kept check belongs to other bytes.
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/Modified/);
      expect(existsSync(join(dir, 'b.tgz'))).toBe(false);
    });
  });
});
