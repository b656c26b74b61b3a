import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  customizeInstaller,
  detectFormat,
  inspectInstaller,
  PLATFORMS,
  type Platform,
} from '../../src/core/archive/installer.ts';
import { formatPublicKey } from '../../src/core/keys.ts';
import { CibError } from '../../src/core/problems.ts';
import { renderVesselinfo } from '../../src/core/vesselinfo.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import type { ResolvedConfig } from '../../src/core/build-config.ts';
import {
  BASES,
  demoManifest,
  extractWithTools,
  readTree,
  RESERVED_KEY_FIXTURE,
  tempDir,
} from '../support/tools.ts';

const RESERVED = RESERVED_KEY_FIXTURE;

let resolved: ResolvedConfig;
let vesselinfo: string;

beforeAll(async () => {
  const alex = await generateKeyPair(1024);
  const bob = await generateKeyPair(1024);
  resolved = {
    vessels: [
      { percentage: 60, owner: 'alex', users: ['bob'] },
      { percentage: 20, owner: 'bob', users: [] },
    ],
    publicKeys: { alex: alex.publicKey, bob: bob.publicKey },
    reservedShare: 20,
    reservedKey: RESERVED,
  };
  vesselinfo = renderVesselinfo(resolved);
});

function baseOf(platform: string) {
  const entry = demoManifest().find((b) => b.platform === platform);
  if (!entry) throw new Error(`no demo base for ${platform}`);
  return { entry, bytes: new Uint8Array(readFileSync(join(BASES, entry.file))) };
}

describe.each(demoManifest().map((b) => b.platform))('the %s demo base', (platform) => {
  it('customises into an archive the real tools extract to the base plus exactly the vesselinfo', async () => {
    const { entry, bytes } = baseOf(platform);
    const out = await customizeInstaller({
      base: bytes,
      vesselinfo,
      platform: platform as Platform,
      expectSha256: entry.sha256,
    });
    const dir = tempDir();
    const file = join(dir, PLATFORMS.find((p) => p.platform === platform)!.outputFile);
    writeFileSync(file, out);
    const baseFile = join(BASES, entry.file);
    const before = readTree(extractWithTools(baseFile));
    const after = readTree(extractWithTools(file));
    expect([...after.keys()].sort()).toEqual(
      [...before.keys(), 'seattle/seattle_repy/vesselinfo'].sort(),
    );
    for (const [path, data] of before) expect(after.get(path)?.equals(data), path).toBe(true);
    expect(after.get('seattle/seattle_repy/vesselinfo')!.toString('latin1')).toBe(vesselinfo);

    // Python's readers, which the old service's integration test used, agree.
    const reader = entry.file.endsWith('.tgz')
      ? `import tarfile,sys\nt=tarfile.open(sys.argv[1])\nm=[x for x in t.getmembers() if x.name=='seattle/seattle_repy/vesselinfo']\nassert len(m)==1 and m[0].mode==0o644 and m[0].uid==0, m\nsys.stdout.write(t.extractfile(m[0]).read().decode('ascii'))`
      : `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nn=[i for i in z.infolist() if i.filename=='seattle/seattle_repy/vesselinfo']\nassert len(n)==1 and (n[0].external_attr>>16)&0o777==0o644, n\nsys.stdout.write(z.read(n[0]).decode('ascii'))`;
    expect(execFileSync('python3', ['-c', reader, file], { encoding: 'utf8' })).toBe(vesselinfo);
  });

  it('is reproducible: the same base and vesselinfo give the same bytes', async () => {
    const { bytes } = baseOf(platform);
    const a = await customizeInstaller({ base: bytes, vesselinfo });
    const b = await customizeInstaller({ base: bytes.slice(), vesselinfo });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('replaces the vesselinfo of an installer that already has one', async () => {
    const { bytes } = baseOf(platform);
    const first = await customizeInstaller({ base: bytes, vesselinfo });
    const other = 'Percent 80\nOwner 3 55\nPercent 20\nOwner 5 91';
    const second = await customizeInstaller({ base: first, vesselinfo: other });
    const inspection = await inspectInstaller(second);
    expect(inspection.vesselinfo).toBe(other);
    const dir = tempDir();
    const file = join(
      dir,
      platform.startsWith('win') || platform === 'android' ? 'x.zip' : 'x.tgz',
    );
    writeFileSync(file, second);
    const listing = file.endsWith('.tgz')
      ? execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
      : execFileSync('unzip', ['-Z1', file], { encoding: 'utf8' });
    expect(listing.split('\n').filter((l) => l === 'seattle/seattle_repy/vesselinfo')).toHaveLength(
      1,
    );
  });

  it('refuses a base whose SHA-256 is not the expected one, with no output', async () => {
    const { bytes } = baseOf(platform);
    await expect(
      customizeInstaller({ base: bytes, vesselinfo, expectSha256: '0'.repeat(64) }),
    ).rejects.toMatchObject({
      code: 'base.sha256.mismatch',
    });
  });

  it('inspects the custom installer: vessels, node names, ports, fingerprints, acceptance', async () => {
    const { bytes } = baseOf(platform);
    const out = await customizeInstaller({ base: bytes, vesselinfo });
    const inspection = await inspectInstaller(out);
    expect(inspection.valid).toBe(true);
    expect(inspection.vessels.map((v) => [v.name, v.percent, v.ports])).toEqual([
      ['v1', 60, [63100, 63159]],
      ['v2', 20, [63160, 63179]],
      ['v3', 20, [63180, 63199]],
    ]);
    expect(inspection.vessels[0]!.owner).toBe(resolved.publicKeys.alex);
    expect(inspection.vessels[0]!.users).toEqual([resolved.publicKeys.bob]);
    expect(inspection.vessels[2]!.ownerFingerprint).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
  });

  it('inspects a base installer as one that carries no vesselinfo', async () => {
    const inspection = await inspectInstaller(baseOf(platform).bytes);
    expect(inspection.valid).toBe(false);
    expect(inspection.problems.map((p) => p.code)).toEqual(['inspect.vesselinfo.missing']);
  });
});

describe('the installer engine', () => {
  it('detects the archive kind from the bytes', () => {
    expect(detectFormat(baseOf('linux').bytes)).toBe('tgz');
    expect(detectFormat(baseOf('windows').bytes)).toBe('zip');
    expect(detectFormat(new Uint8Array([0x4d, 0x5a, 0, 0]))).toBe('exe');
    expect(detectFormat(new TextEncoder().encode('hello'))).toBeUndefined();
  });

  it('refuses a base of the wrong kind for the platform, naming both', async () => {
    const error = await customizeInstaller({
      base: baseOf('windows').bytes,
      vesselinfo,
      platform: 'linux',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CibError);
    expect((error as CibError).code).toBe('base.format.mismatch');
    expect((error as CibError).message).toMatch(/zip.*linux.*tgz/);
  });

  it('refuses input that is no installer at all', async () => {
    await expect(
      customizeInstaller({ base: new TextEncoder().encode('<html>404</html>'), vesselinfo }),
    ).rejects.toMatchObject({
      code: 'base.format.unknown',
    });
    await expect(customizeInstaller({ base: new Uint8Array(0), vesselinfo })).rejects.toThrow(
      /empty/,
    );
  });

  it('customises the Windows GUI exe so the install-time helper finds the vesselinfo after the last START:', async () => {
    const exe = new Uint8Array(4096);
    for (let i = 2; i < exe.length; i++) exe[i] = (i * 131) & 0xff;
    // A PE program, as the strict profile wants: "MZ", e_lfanew -> "PE\0\0", one section inside.
    const view = new DataView(exe.buffer);
    exe.set([0x4d, 0x5a]);
    view.setUint32(0x3c, 0x80, true);
    exe.set([0x50, 0x45, 0, 0], 0x80);
    view.setUint16(0x86, 1, true);
    view.setUint16(0x94, 0, true);
    view.setUint32(0x98 + 16, 0x800, true);
    view.setUint32(0x98 + 20, 0x200, true);
    const out = await customizeInstaller({ base: exe, vesselinfo, platform: 'windows_gui' });
    const dir = tempDir();
    writeFileSync(join(dir, 'x.exe'), out);
    // The helper's own rule (docs/formats.md#base-installers), written independently in Python.
    const helper = `import sys\nb=open(sys.argv[1],'rb').read()\ni=b.rfind(b'START:')\nsys.stdout.write(b[i+6:].decode('ascii'))`;
    const run = spawnSync('python3', ['-c', helper, join(dir, 'x.exe')], { encoding: 'utf8' });
    expect(run.stdout).toBe(vesselinfo);
    expect(Buffer.from(out.subarray(0, exe.length)).equals(Buffer.from(exe))).toBe(true);
    const inspection = await inspectInstaller(out);
    expect(inspection.format).toBe('exe');
    expect(inspection.valid).toBe(true);
  });

  it('reports every problem the node would find in an installer it would refuse', async () => {
    const bad = 'Percent 15\nOwner 3 55\nPercent 20\nOwner 5 91';
    const out = await customizeInstaller({ base: baseOf('linux').bytes, vesselinfo: bad });
    const inspection = await inspectInstaller(out);
    expect(inspection.valid).toBe(false);
    expect(inspection.problems.some((p) => p.path === 'line 1')).toBe(true);
  });

  it('keeps the reserved key intact in the rendered vesselinfo', () => {
    expect(vesselinfo.split('\n').at(-1)).toBe(`Owner ${RESERVED}`);
    expect(formatPublicKey({ e: 3n, n: 55n })).toBe('3 55');
  });
});
