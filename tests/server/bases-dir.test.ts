/**
 * With BASES_DIR set to another folder than DIST_DIR/base-installers, the page and a script must
 * still get installers built from the same base: the page fetches the base config.json points it
 * to, the script downloads the installer the server builds, and both come from BASES_DIR.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serializeMethodCall } from '@foxglove/xmlrpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/core/build-config.ts';
import { parseManifest, type BaseManifestEntry } from '../../src/core/manifest.ts';
import { renderVesselinfo } from '../../src/core/vesselinfo.ts';
import { readTree, extractWithTools, ROOT, runCib, tempDir } from '../support/tools.ts';
import { BASES_DIR, startTestServer, type TestServer } from './helpers.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let work: string;
let basesDir: string;
let server: TestServer;

beforeAll(async () => {
  work = tempDir('cib-bases-dir-');
  // Bases of the operator's own, signed by a key of theirs: not the demo bases dist/ holds.
  const keys = join(work, 'keys');
  const keygen = runCib(['keygen', '--bits', '1024', '--name', 'operator', '--out', keys]);
  if (keygen.status !== 0) throw new Error(keygen.stderr);
  basesDir = join(work, 'bases');
  const made = runCib([
    'make-base',
    '--src',
    join(ROOT, 'demo/source'),
    '--pubkey',
    join(keys, 'operator.publickey'),
    '--privkey',
    join(keys, 'operator.privatekey'),
    '--out',
    basesDir,
    '--version',
    'elsewhere-1',
    '--timestamp',
    '1767225600',
  ]);
  if (made.status !== 0) throw new Error(made.stderr);
  writeFileSync(join(basesDir, 'notes.txt'), 'operator notes, not a base\n');
  server = await startTestServer({
    BASES_DIR: basesDir,
    UPDATE_KEYS: `${readFileSync(join(keys, 'operator.publickey'), 'utf8').trim()} # operator`,
  });
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

/** What the page does: config.json, then the manifest and the base from baseInstallersUrl. */
async function pageBase(platform: string) {
  const configUrl = `${server.publicUrl}/config.json`;
  const config = (await (await fetch(configUrl)).json()) as { baseInstallersUrl: string };
  const basesUrl = new URL(config.baseInstallersUrl, configUrl).href;
  const { manifest } = parseManifest(
    await (await fetch(new URL('manifest.json', basesUrl))).text(),
  );
  const entry = manifest?.bases.find((b) => b.platform === platform) as BaseManifestEntry;
  const response = await fetch(new URL(entry.file, basesUrl));
  expect(response.status).toBe(200);
  return { basesUrl, entry, bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe('one folder of bases for the page and the server', () => {
  it("builds a script's installer from the very base the page fetches", async () => {
    const distBase = readFileSync(join(BASES_DIR, 'seattle_linux.tgz'));
    const config = {
      vessels: [{ percentage: 80, owner: 'donor', users: ['clearinghouse'] }],
      user_data: {
        donor: { public_key: '12345 54321' },
        clearinghouse: { public_key: '3 1000003' },
      },
    };
    const { resolved } = await resolveConfig(config, server.settings.deployment);
    const call = await fetch(`${server.origin}/xmlrpc/`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body: serializeMethodCall('build_installers', [config.vessels, config.user_data] as never),
    });
    const id = /<name>build_id<\/name><value><string>([a-z0-9]{40})</.exec(await call.text())?.[1];
    expect(id).toBeDefined();
    const health = (await (await fetch(`${server.origin}/healthz`)).json()) as {
      bases: { url: string; files: Record<string, { sha256: string }> };
    };

    for (const [platform, file] of [
      ['linux', 'seattle_linux.tgz'],
      ['windows', 'seattle_win.zip'],
    ] as const) {
      const page = await pageBase(platform);
      const onDisk = readFileSync(join(basesDir, file));
      // The page's base is BASES_DIR's file, as its manifest lists it, and not dist/'s copy.
      expect(sha256(page.bytes)).toBe(sha256(onDisk));
      expect(page.entry.sha256).toBe(sha256(onDisk));
      if (platform === 'linux') expect(sha256(page.bytes)).not.toBe(sha256(distBase));
      // /healthz names that same base as the one builds use, at the URL the page uses.
      expect(health.bases.url).toBe(page.basesUrl);
      expect(health.bases.files[platform]?.sha256).toBe(sha256(page.bytes));

      const script = await fetch(`${server.origin}/${id}/installers/${platform}/`);
      expect(script.status).toBe(200);
      const installer = join(work, `${platform}-installer.${file.split('.').pop()}`);
      const base = join(work, `${platform}-base.${file.split('.').pop()}`);
      writeFileSync(installer, new Uint8Array(await script.arrayBuffer()));
      writeFileSync(base, page.bytes);
      // Read back with GNU tar (unzip for the zip): the base's files, byte for byte, plus the
      // vesselinfo for this build and nothing else.
      const baseTree = readTree(extractWithTools(base));
      const built = readTree(extractWithTools(installer));
      const vesselinfo = 'seattle/seattle_repy/vesselinfo';
      expect(built.get(vesselinfo)?.toString('utf8')).toBe(renderVesselinfo(resolved));
      built.delete(vesselinfo);
      expect([...built.keys()].sort()).toEqual([...baseTree.keys()].sort());
      for (const [path, bytes] of baseTree) expect(built.get(path)?.equals(bytes), path).toBe(true);
    }
  });

  it('serves only the manifest and the bases it lists from BASES_DIR', async () => {
    expect((await fetch(`${server.origin}/base-installers/notes.txt`)).status).toBe(404);
    expect((await fetch(`${server.origin}/base-installers/`)).status).toBe(404);
    expect((await fetch(`${server.origin}/base-installers/a/manifest.json`)).status).toBe(404);
    const manifest = await fetch(`${server.origin}/base-installers/manifest.json`);
    expect(manifest.headers.get('cache-control')).toBe('no-cache');
    expect(await manifest.text()).toBe(readFileSync(join(basesDir, 'manifest.json'), 'utf8'));
    // Revalidated by its ETag, and read in ranges, as any static file.
    expect(manifest.headers.get('etag')).toMatch(/^W\/"/);
    const part = await fetch(`${server.origin}/base-installers/seattle_linux.tgz`, {
      headers: { Range: 'bytes=0-1' },
    });
    expect(part.status).toBe(206);
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([0x1f, 0x8b]);
  });
});
