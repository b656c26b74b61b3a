import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBaseCommand } from '../../src/cli/commands/make-base.ts';
import { BASE_PLATFORMS, type BaseManifest } from '../../src/core/archive/build-bases.ts';
import { fingerprint, parsePublicKey, type PublicKey } from '../../src/core/keys.ts';
import { verifyMetainfo } from '../../src/core/metainfo.ts';
import {
  DEMO_BASES_DIR,
  DEMO_BASES_TIMESTAMP,
  DEMO_BASES_VERSION,
  demoBaseArgs,
} from '../../scripts/make-demo-bases.ts';
import { runCib } from '../support/tools.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const SOURCE = join(ROOT, 'demo/source');
const PUBLIC_FILE = join(ROOT, 'demo/update-keys/demo.publickey');
const PRIVATE_FILE = join(ROOT, 'demo/update-keys/demo.privatekey');
const DEMO_KEY = readFileSync(PUBLIC_FILE, 'utf8').trim();
const publicKey = parsePublicKey(DEMO_KEY).key as PublicKey;
const VERIFIER = join(ROOT, 'tests/python/verify_metainfo.py');

const scratch = mkdtempSync(join(tmpdir(), 'cib-make-base-'));
const out = join(scratch, 'out');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

beforeAll(async () => {
  expect(await makeBaseCommand.run(demoBaseArgs(out))).toBe(0);
});

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every file under `dir` (relative paths, sorted). */
function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

/** What the base for `platform` must hold under seattle/: source path for each archive path. */
function expectedTree(platform: string): Map<string, string> {
  const tree = new Map<string, string>();
  for (const file of listFiles(join(SOURCE, 'seattle_repy'))) {
    tree.set(`seattle_repy/${file}`, join(SOURCE, 'seattle_repy', file));
  }
  for (const file of listFiles(join(SOURCE, platform)))
    tree.set(file, join(SOURCE, platform, file));
  return tree;
}

function extract(platform: string, file: string): string {
  const dir = mkdtempSync(join(scratch, `${platform}-`));
  if (file.endsWith('.tgz')) execFileSync('tar', ['-xzf', join(out, file), '-C', dir]);
  else execFileSync('unzip', ['-q', join(out, file), '-d', dir]);
  return dir;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCib(['make-base', ...args], { env: { ...process.env, ...env } });
}

function python(script: string, ...args: string[]): string {
  return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8' });
}

describe('cib make-base on the demo source tree', () => {
  it('writes the four bases and a manifest whose sizes and SHA-256 match the files', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as BaseManifest;
    expect(manifest.version).toBe(DEMO_BASES_VERSION);
    expect(manifest.bases.map((b) => [b.platform, b.file, b.layout, b.version])).toEqual([
      ['linux', 'seattle_linux.tgz', 'append-ready', DEMO_BASES_VERSION],
      ['mac', 'seattle_mac.tgz', 'append-ready', DEMO_BASES_VERSION],
      ['windows', 'seattle_win.zip', 'plain', DEMO_BASES_VERSION],
      ['android', 'seattle_android.zip', 'plain', DEMO_BASES_VERSION],
    ]);
    for (const base of manifest.bases) {
      const bytes = readFileSync(join(out, base.file));
      expect(base.size).toBe(bytes.length);
      expect(base.sha256).toBe(sha256(bytes));
    }
    expect(readdirSync(out).sort()).toEqual([
      'manifest.json',
      'seattle_android.zip',
      'seattle_linux.tgz',
      'seattle_mac.tgz',
      'seattle_win.zip',
    ]);
  });

  it.each(BASE_PLATFORMS.map((b) => [b.platform, b.file]))(
    'the %s base extracts to seattle/ = the source tree + metainfo + update key, modes kept',
    (platform, file) => {
      const dir = extract(platform, file);
      expect(readdirSync(dir)).toEqual(['seattle']);
      const top = join(dir, 'seattle');
      const expected = expectedTree(platform);
      expect(listFiles(top)).toEqual(
        [
          ...expected.keys(),
          'seattle_repy/metainfo',
          'seattle_repy/softwareupdater.publickey',
        ].sort(),
      );
      for (const [path, source] of expected) {
        expect(readFileSync(join(top, path)).equals(readFileSync(source)), path).toBe(true);
        const wanted = statSync(source).mode & 0o111 ? 0o755 : 0o644;
        expect((statSync(join(top, path)).mode & 0o777).toString(8), path).toBe(wanted.toString(8));
      }
      expect(readFileSync(join(top, 'seattle_repy/softwareupdater.publickey'), 'utf8')).toBe(
        DEMO_KEY,
      );
      expect(existsSync(join(top, 'seattle_repy/vesselinfo'))).toBe(false);
    },
  );

  it.each(BASE_PLATFORMS.map((b) => [b.platform, b.file]))(
    'the %s base carries a metainfo the independent Python verifier accepts against the tree',
    (platform, file) => {
      const repy = join(extract(platform, file), 'seattle/seattle_repy');
      const output = execFileSync(
        'python3',
        [VERIFIER, join(repy, 'metainfo'), PUBLIC_FILE, '--tree', repy],
        {
          encoding: 'utf8',
        },
      );
      expect(output).toContain('signature ok');
      expect(output).toContain('tree ok');
      const check = verifyMetainfo(readFileSync(join(repy, 'metainfo'), 'utf8'), publicKey);
      expect(check.valid).toBe(true);
      expect(check.timestamp).toBe(DEMO_BASES_TIMESTAMP);
      expect(check.entries.map((e) => e.path)).toEqual([
        'README.txt',
        'demo_install.py',
        'nmmain.py',
        'softwareupdater.publickey',
      ]);
    },
  );

  it('the Python verifier notices a program file changed after signing', () => {
    const repy = join(extract('linux', 'seattle_linux.tgz'), 'seattle/seattle_repy');
    writeFileSync(join(repy, 'nmmain.py'), 'print("changed")\n');
    const result = spawnSync(
      'python3',
      [VERIFIER, join(repy, 'metainfo'), PUBLIC_FILE, '--tree', repy],
      {
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('listed file differs from the tree: nmmain.py');
  });

  it('tgz bases: GNU tar lists directories before their contents, in sorted order', () => {
    const listing = execFileSync('tar', ['-tzf', join(out, 'seattle_linux.tgz')], {
      encoding: 'utf8',
    });
    expect(listing.trim().split('\n')).toEqual([
      'seattle/',
      'seattle/install.sh',
      'seattle/seattle_repy/',
      'seattle/seattle_repy/README.txt',
      'seattle/seattle_repy/demo_install.py',
      'seattle/seattle_repy/metainfo',
      'seattle/seattle_repy/nmmain.py',
      'seattle/seattle_repy/softwareupdater.publickey',
    ]);
  });

  it('tgz bases: Python tarfile sees modes, owner 0/0 and the fixed mtime on every member', () => {
    const report = python(
      [
        'import sys, tarfile',
        'with tarfile.open(sys.argv[1], "r:gz") as t:',
        '  for m in t.getmembers():',
        '    print(m.name, "dir" if m.isdir() else "file", oct(m.mode), m.uid, m.gid, m.mtime)',
      ].join('\n'),
      join(out, 'seattle_mac.tgz'),
    );
    const t = DEMO_BASES_TIMESTAMP;
    expect(report.trim().split('\n')).toEqual([
      `seattle dir 0o755 0 0 ${t}`,
      `seattle/install.sh file 0o755 0 0 ${t}`,
      `seattle/seattle_repy dir 0o755 0 0 ${t}`,
      `seattle/seattle_repy/README.txt file 0o644 0 0 ${t}`,
      `seattle/seattle_repy/demo_install.py file 0o755 0 0 ${t}`,
      `seattle/seattle_repy/metainfo file 0o644 0 0 ${t}`,
      `seattle/seattle_repy/nmmain.py file 0o755 0 0 ${t}`,
      `seattle/seattle_repy/softwareupdater.publickey file 0o644 0 0 ${t}`,
    ]);
  });

  it('zip bases pass unzip -t and show Unix modes in unzip -Z', () => {
    for (const file of ['seattle_win.zip', 'seattle_android.zip']) {
      expect(execFileSync('unzip', ['-t', join(out, file)], { encoding: 'utf8' })).toContain(
        'No errors detected',
      );
    }
    const listing = execFileSync('unzip', ['-Z', join(out, 'seattle_win.zip')], {
      encoding: 'utf8',
    });
    const modes = Object.fromEntries(
      listing
        .split('\n')
        .filter((l) => / seattle\//.test(l))
        .map((l) => [l.split(/\s+/).at(-1), l.split(/\s+/)[0]]),
    );
    expect(modes).toEqual({
      'seattle/': 'drwxr-xr-x',
      'seattle/install.bat': '-rw-r--r--',
      'seattle/seattle_repy/': 'drwxr-xr-x',
      'seattle/seattle_repy/README.txt': '-rw-r--r--',
      'seattle/seattle_repy/demo_install.py': '-rwxr-xr-x',
      'seattle/seattle_repy/metainfo': '-rw-r--r--',
      'seattle/seattle_repy/nmmain.py': '-rwxr-xr-x',
      'seattle/seattle_repy/softwareupdater.publickey': '-rw-r--r--',
    });
  });

  it('zip bases: Python zipfile reads Unix hosts, modes and the timestamp as UTC date/time', () => {
    const report = python(
      [
        'import sys, zipfile',
        'with zipfile.ZipFile(sys.argv[1]) as z:',
        '  assert z.testzip() is None',
        '  for i in z.infolist():',
        '    print(i.filename, i.create_system, oct(i.external_attr >> 16), "%04d-%02d-%02dT%02d:%02d:%02d" % i.date_time)',
      ].join('\n'),
      join(out, 'seattle_android.zip'),
    );
    const when = new Date(DEMO_BASES_TIMESTAMP * 1000).toISOString().slice(0, 19);
    expect(report.trim().split('\n')).toEqual([
      `seattle/ 3 0o40755 ${when}`,
      `seattle/README.txt 3 0o100644 ${when}`,
      `seattle/seattle_repy/ 3 0o40755 ${when}`,
      `seattle/seattle_repy/README.txt 3 0o100644 ${when}`,
      `seattle/seattle_repy/demo_install.py 3 0o100755 ${when}`,
      `seattle/seattle_repy/metainfo 3 0o100644 ${when}`,
      `seattle/seattle_repy/nmmain.py 3 0o100755 ${when}`,
      `seattle/seattle_repy/softwareupdater.publickey 3 0o100644 ${when}`,
    ]);
  });

  it('install.sh --dry-run in an extracted base prints the vessels of a vesselinfo written into it', () => {
    const top = join(extract('linux', 'seattle_linux.tgz'), 'seattle');
    const installer = join(top, 'install.sh');
    const missing = spawnSync('sh', [installer, '--dry-run'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('seattle_repy/vesselinfo is missing');

    writeFileSync(
      join(top, 'seattle_repy/vesselinfo'),
      `Percent 60\nOwner ${DEMO_KEY}\nUser 3 1000003\nPercent 20\nOwner 5 77777\nPercent 20\nOwner 7 88889`,
    );
    for (const args of [['--dry-run'], []]) {
      const run = spawnSync(installer, args, { encoding: 'utf8', cwd: scratch });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain('Seattle DEMO installer for linux');
      expect(run.stdout).toContain(
        [
          `v1 60% ports 63100-63159 owner ${fingerprint(DEMO_KEY)}`,
          `  user ${fingerprint('3 1000003')}`,
          `v2 20% ports 63160-63179 owner ${fingerprint('5 77777')}`,
          `v3 20% ports 63180-63199 owner ${fingerprint('7 88889')}`,
          'demo installer: nothing was installed.',
        ].join('\n'),
      );
    }

    writeFileSync(join(top, 'seattle_repy/vesselinfo'), 'Percent 15\nOwner 1 2');
    const bad = spawnSync(installer, ['--dry-run'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('line 1: the percentage must be a multiple of 10');
  });
});

describe('reproducible output', () => {
  it('demo bases are up to date: rebuilding base-installers/ gives the committed bytes (in another time zone)', () => {
    const rebuilt = join(scratch, 'rebuilt');
    const result = cli(demoBaseArgs(rebuilt), { TZ: 'Pacific/Chatham' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const names = readdirSync(rebuilt).sort();
    expect(readdirSync(DEMO_BASES_DIR).sort()).toEqual(names);
    for (const name of names) {
      const committed = readFileSync(join(DEMO_BASES_DIR, name));
      const fresh = readFileSync(join(rebuilt, name));
      expect(
        committed.equals(fresh),
        `${name} is stale: run \`npm run make-demo-bases\` and commit base-installers/`,
      ).toBe(true);
    }
  });

  it('uses SOURCE_DATE_EPOCH when --timestamp is absent', async () => {
    const args = demoBaseArgs(join(scratch, 'epoch'));
    const withoutTimestamp = args.slice(0, args.indexOf('--timestamp'));
    const previous = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = String(DEMO_BASES_TIMESTAMP);
    try {
      expect(await makeBaseCommand.run(withoutTimestamp)).toBe(0);
    } finally {
      if (previous === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = previous;
    }
    for (const { file } of BASE_PLATFORMS) {
      expect(readFileSync(join(scratch, 'epoch', file)).equals(readFileSync(join(out, file)))).toBe(
        true,
      );
    }
  });
});

describe('cib make-base errors', () => {
  function sourceCopy(name: string): string {
    const dir = join(scratch, name);
    cpSync(SOURCE, dir, { recursive: true });
    return dir;
  }
  const keyArgs = ['--pubkey', PUBLIC_FILE, '--privkey', PRIVATE_FILE];

  it('exits 1 naming the folder when DIR/seattle_repy is missing, and writes nothing', () => {
    const src = sourceCopy('no-repy');
    rmSync(join(src, 'seattle_repy'), { recursive: true });
    const target = join(scratch, 'no-repy-out');
    const result = cli(['--src', src, ...keyArgs, '--out', target]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `${join(src, 'seattle_repy')}: The source tree needs a seattle_repy/ folder`,
    );
    expect(existsSync(target)).toBe(false);
  });

  it('exits 1 when a platform folder is missing', () => {
    const src = sourceCopy('no-android');
    rmSync(join(src, 'android'), { recursive: true });
    const result = cli(['--src', src, ...keyArgs, '--out', join(scratch, 'x')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('needs a android/ folder');
  });

  it('exits 1 when the private key does not belong to the public key', () => {
    const otherPublic = join(scratch, 'other.publickey');
    writeFileSync(otherPublic, `${publicKey.e} ${publicKey.n + 2n}`);
    const result = cli([
      '--src',
      SOURCE,
      '--pubkey',
      otherPublic,
      '--privkey',
      PRIVATE_FILE,
      '--out',
      join(scratch, 'x'),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      `${PRIVATE_FILE}: This private key does not belong to the public key`,
    );
    expect(result.stderr).not.toMatch(/[0-9]{100}/);
  });

  it('exits 1 for an unreadable or malformed key file', () => {
    const missing = cli([
      '--src',
      SOURCE,
      '--pubkey',
      join(scratch, 'nope'),
      '--privkey',
      PRIVATE_FILE,
      '--out',
      join(scratch, 'x'),
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('Cannot read the --pubkey file (ENOENT)');
    const garbage = join(scratch, 'garbage.privatekey');
    writeFileSync(garbage, 'not a key');
    const malformed = cli([
      '--src',
      SOURCE,
      '--pubkey',
      PUBLIC_FILE,
      '--privkey',
      garbage,
      '--out',
      join(scratch, 'x'),
    ]);
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toContain(garbage);
  });

  it('exits 1 when the source tree brings its own vesselinfo', () => {
    const src = sourceCopy('with-vesselinfo');
    writeFileSync(join(src, 'seattle_repy/vesselinfo'), 'Percent 100\nOwner 1 2');
    const result = cli(['--src', src, ...keyArgs, '--out', join(scratch, 'x')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'seattle_repy/vesselinfo: A base installer must not contain a vesselinfo',
    );
  });

  it('exits 2 for a missing option or a bad --timestamp', () => {
    expect(cli(['--src', SOURCE, ...keyArgs]).status).toBe(2);
    expect(
      cli(['--src', SOURCE, ...keyArgs, '--out', join(scratch, 'x'), '--timestamp', 'soon']).status,
    ).toBe(2);
  });

  it('lists nested program files and skips *.pyc in the metainfo but keeps them in the archive', async () => {
    const src = sourceCopy('nested');
    mkdirSync(join(src, 'seattle_repy/lib'));
    writeFileSync(join(src, 'seattle_repy/lib/helper.py'), 'x = 1\n');
    writeFileSync(join(src, 'seattle_repy/nmmain.pyc'), 'compiled');
    chmodSync(join(src, 'seattle_repy/lib/helper.py'), 0o664);
    const target = join(scratch, 'nested-out');
    const args = demoBaseArgs(target);
    args[args.indexOf('--src') + 1] = src;
    expect(await makeBaseCommand.run(args)).toBe(0);
    const listing = execFileSync('tar', ['-tvzf', join(target, 'seattle_linux.tgz')], {
      encoding: 'utf8',
    });
    expect(listing).toMatch(/drwxr-xr-x 0\/0 .* seattle\/seattle_repy\/lib\/\n/);
    expect(listing).toMatch(/-rw-r--r-- 0\/0 .* seattle\/seattle_repy\/lib\/helper\.py\n/);
    expect(listing).toContain('seattle/seattle_repy/nmmain.pyc');
    const dir = mkdtempSync(join(scratch, 'nested-x-'));
    execFileSync('tar', ['-xzf', join(target, 'seattle_linux.tgz'), '-C', dir]);
    const metainfo = readFileSync(join(dir, 'seattle/seattle_repy/metainfo'), 'utf8');
    expect(metainfo).toContain('\nlib/helper.py ');
    expect(metainfo).not.toContain('nmmain.pyc');
    const output = execFileSync(
      'python3',
      [
        VERIFIER,
        join(dir, 'seattle/seattle_repy/metainfo'),
        PUBLIC_FILE,
        '--tree',
        join(dir, 'seattle/seattle_repy'),
      ],
      { encoding: 'utf8' },
    );
    expect(output).toContain('tree ok');
  });
});
