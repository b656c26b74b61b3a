import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  statSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/core/manifest.ts';
import { BASES, extractWithTools, runCib } from '../support/tools.ts';
import { testDeployment } from '../support/test-bases.ts';
import { isAppendReady, readTgzEntries } from '../../src/core/archive/tgz.ts';
import { prepareBaseCommand } from '../../src/cli/commands/prepare-base.ts';
import { CibError } from '../../src/core/problems.ts';

const work = mkdtempSync(join(tmpdir(), 'prepare-base-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Python's tarfile `w:gz` of the folder `tree/seattle`, as the old packaging scripts wrote bases. */
function pythonTgz(tree: string, out: string): string {
  execFileSync('python3', [
    '-c',
    'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1], arcname="seattle")',
    join(tree, 'seattle'),
    out,
  ]);
  return out;
}

/** An unsigned base the way the old packaging scripts wrote them: Python's tarfile `w:gz`. */
function pythonBase(dir: string): string {
  mkdirSync(join(dir, 'src/seattle/seattle_repy'), { recursive: true });
  writeFileSync(join(dir, 'src/seattle/install.sh'), '#!/bin/sh\necho install\n', { mode: 0o755 });
  writeFileSync(join(dir, 'src/seattle/seattle_repy/nmmain.py'), 'print("nm")\n'.repeat(300));
  const out = join(dir, 'seattle_linux.tgz');
  execFileSync('python3', [
    '-c',
    'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1], arcname="seattle")',
    join(dir, 'src/seattle'),
    out,
  ]);
  return out;
}

describe('cib prepare-base', () => {
  it('rewrites a Python tarfile base into the append-ready layout with the same entries', () => {
    const dir = join(work, 'ok');
    mkdirSync(dir);
    // Signed software (by the tests' operator key, trusted through UPDATE_KEYS), repacked by Python.
    const deployment = testDeployment();
    const input = pythonTgz(
      extractWithTools(join(deployment.dir, 'seattle_linux.tgz')),
      join(dir, 'seattle_linux.tgz'),
    );
    const output = join(dir, 'ready.tgz');
    const run = runCib(['prepare-base', input, '--out', output], { env: deployment.env });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/append-ready; \d+ entries verified identical/);
    expect(run.stdout).toContain("Software: Seattle software signed by the tests' operator key");
    const before = readFileSync(input);
    const after = readFileSync(output);
    expect(isAppendReady(before)).toBe(false);
    expect(isAppendReady(after)).toBe(true);
    return Promise.all([readTgzEntries(after), readTgzEntries(before)]).then(([a, b]) => {
      expect(a).toEqual(b);
      const list = (file: string) => execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' });
      expect(list(output)).toBe(list(input));
      execFileSync('gzip', ['-t', output]);
    });
  });

  it('refuses a base a build would refuse, with exit 1 and the reason, writing nothing', () => {
    const dir = join(work, 'unsigned');
    mkdirSync(dir);
    const input = pythonBase(dir);
    const output = join(dir, 'ready.tgz');
    const run = runCib(['prepare-base', input, '--out', output]);
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('Software: Not signed');
    expect(run.stderr).toContain(`${input}: The base installer is refused: Not signed`);
    expect(existsSync(output)).toBe(false);
    // The same signed base is refused where its key is not trusted, and says how to trust it.
    const signed = pythonTgz(
      extractWithTools(join(testDeployment().dir, 'seattle_linux.tgz')),
      join(dir, 'signed.tgz'),
    );
    const { UPDATE_KEYS: _k, UPDATE_KEYS_FILE: _f, ...env } = process.env;
    const untrusted = runCib(['prepare-base', signed, '--out', output], { env });
    expect(untrusted.status).toBe(1);
    expect(untrusted.stderr).toContain('Signed by an update key this deployment does not trust');
    expect(untrusted.stderr).toContain('UPDATE_KEYS');
    expect(existsSync(output)).toBe(false);
  });

  it('writes nothing, not even a temporary file, when the base is damaged', async () => {
    const dir = join(work, 'bad');
    mkdirSync(dir);
    const input = pythonBase(dir);
    const bytes = readFileSync(input);
    writeFileSync(input, bytes.subarray(0, bytes.length - 12));
    const output = join(dir, 'ready.tgz');
    const before = readdirSync(dir).sort();
    await expect(prepareBaseCommand.run([input, '--out', output])).rejects.toBeInstanceOf(CibError);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  describe('a folder of bases', () => {
    /**
     * Bases as real packaging writes them (Python's tarfile, GNU tar and Info-ZIP), holding the
     * signed demo software so that they also pass the software check.
     */
    function legacyFolder(dir: string): string {
      const bases = join(dir, 'legacy');
      mkdirSync(join(bases, 'src'), { recursive: true });
      execFileSync('tar', ['-xzf', join(BASES, 'seattle_linux.tgz'), '-C', join(bases, 'src')]);
      execFileSync('python3', [
        '-c',
        'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1], arcname="seattle")',
        join(bases, 'src/seattle'),
        join(bases, 'seattle_linux.tgz'),
      ]);
      execFileSync('tar', [
        '-czf',
        join(bases, 'seattle_mac.tgz'),
        '-C',
        join(bases, 'src'),
        'seattle',
      ]);
      execFileSync('zip', ['-qr', join(bases, 'seattle_win.zip'), 'seattle'], {
        cwd: join(bases, 'src'),
      });
      writeFileSync(join(bases, 'README.txt'), 'not a base\n');
      return bases;
    }

    it('makes tgz bases append-ready, copies zips and writes a manifest the builder accepts', async () => {
      const dir = join(work, 'folder');
      const bases = legacyFolder(dir);
      const out = join(dir, 'deploy');
      const run = runCib(['prepare-base', bases, '--out', out, '--version', 'v9']);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(readdirSync(out).sort()).toEqual([
        'manifest.json',
        'seattle_linux.tgz',
        'seattle_mac.tgz',
        'seattle_win.zip',
      ]);
      const { manifest, problems } = parseManifest(
        readFileSync(join(out, 'manifest.json'), 'utf8'),
      );
      expect(problems).toEqual([]);
      for (const entry of manifest!.bases) {
        const file = join(out, entry.file);
        const sha = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
        expect(entry.sha256, entry.file).toBe(sha);
        expect(entry.size).toBe(statSync(file).size);
        expect(entry.version).toBe('v9');
        if (entry.file.endsWith('.tgz')) {
          expect(entry.layout).toBe('append-ready');
          expect(isAppendReady(readFileSync(file))).toBe(true);
          const list = (f: string) => execFileSync('tar', ['-tvzf', f], { encoding: 'utf8' });
          expect(list(file)).toBe(list(join(bases, entry.file)));
        } else {
          expect(entry.layout).toBe('plain');
          expect(readFileSync(file).equals(readFileSync(join(bases, entry.file)))).toBe(true);
        }
      }
      expect(manifest!.bases.map((b) => b.platform).sort()).toEqual(['linux', 'mac', 'windows']);
      // The folder is deployable as it is: customize finds the manifest beside the base.
      const config = join(dir, 'build.json');
      writeFileSync(
        config,
        JSON.stringify({
          vessels: [{ percentage: 80, owner: 'alex' }],
          user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
        }),
      );
      const custom = runCib([
        'customize',
        '--base',
        join(out, 'seattle_linux.tgz'),
        '--config',
        config,
        '--out',
        join(dir, 'o.tgz'),
      ]);
      expect(custom.status).toBe(0);
      expect(custom.stderr).toContain(`against ${join(out, 'manifest.json')} (linux)`);
    });

    it('writes nothing when one base is not the kind its name says', () => {
      const dir = join(work, 'folder-bad');
      const bases = legacyFolder(dir);
      cpSync(join(bases, 'seattle_mac.tgz'), join(bases, 'seattle_android.zip'));
      const out = join(dir, 'deploy');
      const run = runCib(['prepare-base', bases, '--out', out]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        `${join(bases, 'seattle_android.zip')}: The android base must be a zip file, but this is a tgz file.`,
      );
      expect(existsSync(out)).toBe(false);
    });

    it('says so when the folder holds no base', () => {
      const dir = join(work, 'folder-empty');
      mkdirSync(dir);
      const run = runCib(['prepare-base', dir, '--out', join(dir, 'out')]);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('The folder holds no base installer');
    });
  });
});
