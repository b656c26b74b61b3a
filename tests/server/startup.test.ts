/**
 * The compiled server (`npm start` runs dist-node/server.mjs) checks its settings once, at start:
 * a bad setting stops it with a message naming the variable. It serves the page's config.json
 * from those same settings, and survives dist/ changing under it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../support/tools.ts';
import { BASES_DIR, startTestServer } from './helpers.ts';

const work = mkdtempSync(join(tmpdir(), 'cib-startup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts the compiled server with `env` and returns how it ended (it must end by itself). */
function startCompiled(env: Record<string, string>) {
  const run = spawnSync(process.execPath, [join(ROOT, 'dist-node/server.mjs')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: join(work, 'data'),
      ...env,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: run.status, stderr: run.stderr, signal: run.signal };
}

describe('the server checks its settings at start', () => {
  it.each([
    [
      'RESERVED_SHARE',
      '15',
      /^cib server: RESERVED_SHARE: The reserved share must be a multiple of 10/m,
    ],
    [
      'RESERVED_KEY',
      'INVALID',
      /^cib server: RESERVED_KEY: The reserved key is not a valid Seattle public key/m,
    ],
    [
      'RESERVED_KEY_FILE',
      '/nonexistent/reserved.publickey',
      /^cib server: RESERVED_KEY_FILE: cannot read \/nonexistent/m,
    ],
    [
      'DEFAULT_KEY_BITS',
      '1000',
      /^cib server: DEFAULT_KEY_BITS: The default key size must be one of 1024, 2048, 3072, 4096/m,
    ],
    ['PORT', 'eighty', /^cib server: PORT must be a whole number/m],
    [
      'DOWNLOAD_RATE_MBIT',
      '1Gbit',
      /^cib server: DOWNLOAD_RATE_MBIT must be a whole number from 0 to 1000000, not "1Gbit"\./m,
    ],
  ])('stops with exit 1 naming %s when it is %s', (name, value, message) => {
    const run = startCompiled({ [name]: value });
    expect(run.signal).toBeNull();
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
  });

  it('stops naming BASES_DIR and the file when a base is not the one its manifest lists', () => {
    const bases = join(work, 'bases-tampered');
    cpSync(BASES_DIR, bases, { recursive: true });
    writeFileSync(join(bases, 'seattle_mac.tgz'), 'not the base\n');
    const run = startCompiled({ BASES_DIR: bases });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`BASES_DIR ${bases}: the base installers are not usable`);
    expect(run.stderr).toMatch(
      /^seattle_mac\.tgz: The file \(13 bytes, SHA-256 [0-9a-f]{64}\) is not the one the manifest lists/m,
    );
  });

  it('stops naming the manifest entry when the manifest is malformed', () => {
    const bases = join(work, 'bases-bad-manifest');
    cpSync(BASES_DIR, bases, { recursive: true });
    writeFileSync(
      join(bases, 'manifest.json'),
      JSON.stringify({
        bases: [{ platform: 'linux', file: '../etc/passwd', size: 1, sha256: 'x' }],
      }),
    );
    const run = startCompiled({ BASES_DIR: bases });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('manifest.json bases[0].file: The file must be a plain file name');
    expect(run.stderr).toContain('manifest.json bases[0].sha256: The SHA-256 must be 64 lowercase');
  });
});

describe('one source of deployment settings', () => {
  it('serves config.json from the settings it validated, not from the built file', async () => {
    const key = `65537 ${2n ** 2047n + 12345n}`;
    const server = await startTestServer({ RESERVED_KEY: key, RESERVED_SHARE: '30' });
    try {
      writeFileSync(join(server.distDir, 'config.json'), '{"reservedShare": 20}\n');
      const config = (await (await fetch(`${server.origin}/config.json`)).json()) as Record<
        string,
        unknown
      >;
      expect(config).toMatchObject({
        reservedShare: 30,
        reservedKey: key,
        defaultKeyBits: 2048,
        baseInstallersUrl: 'base-installers/',
      });
    } finally {
      await server.stop();
    }
  });

  it('reports its bases check in /healthz', async () => {
    const server = await startTestServer();
    try {
      const ok = (await (await fetch(`${server.origin}/healthz`)).json()) as {
        checks: Record<string, string>;
      };
      expect(ok.checks.base_installers).toBe('ok');
      writeFileSync(join(server.settings.basesDir, 'seattle_linux.tgz'), 'replaced\n');
      const response = await fetch(`${server.origin}/healthz`);
      expect(response.status).toBe(503);
      const report = (await response.json()) as { checks: Record<string, string> };
      expect(report.checks.base_installers).toContain('seattle_linux.tgz: The file (9 bytes');
    } finally {
      await server.stop();
    }
  });
});

describe('dist/ changing while the server runs', () => {
  it('answers 404 for a file that vanished, serves one that appeared, and keeps running', async () => {
    const server = await startTestServer();
    try {
      writeFileSync(join(server.distDir, 'assets-old.js'), 'old();\n');
      expect((await fetch(`${server.origin}/assets-old.js`)).status).toBe(200);
      rmSync(join(server.distDir, 'assets-old.js'));
      expect((await fetch(`${server.origin}/assets-old.js`)).status).toBe(404);
      writeFileSync(join(server.distDir, 'assets-new.js'), 'fresh();\n');
      const fresh = await fetch(`${server.origin}/assets-new.js`);
      expect(await fresh.text()).toBe('fresh();\n');
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('marks hashed assets immutable and the page, config.json and the bases for revalidation', async () => {
    const server = await startTestServer();
    try {
      mkdirSync(join(server.distDir, 'assets'));
      writeFileSync(join(server.distDir, 'assets/index-abc123.js'), 'x();\n');
      const cache = async (path: string) =>
        (await fetch(`${server.origin}/${path}`)).headers.get('cache-control');
      expect(await cache('assets/index-abc123.js')).toBe('public, max-age=31536000, immutable');
      expect(await cache('')).toBe('no-cache');
      expect(await cache('base-installers/manifest.json')).toBe('no-cache');
      expect(await cache('base-installers/seattle_linux.tgz')).toBe('no-cache');
    } finally {
      await server.stop();
    }
  });
});
