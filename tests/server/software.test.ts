/**
 * The server's Node-side build runs the software check: a base whose files differ from its
 * signed metainfo is refused even though the manifest's SHA-256 matches it, a base signed by an
 * unknown update key is served with a warning, and /healthz reports the verdict of every base.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSoftwareCases } from '../support/software-cases.ts';
import { BASES_DIR, startTestServer, type TestServer } from './helpers.ts';

let server: TestServer;
let buildPath: string;

beforeAll(async () => {
  const cases = makeSoftwareCases(['seattle_linux.tgz', 'seattle_win.zip']);
  const bases = mkdtempSync(join(tmpdir(), 'cib-software-bases-'));
  cpSync(BASES_DIR, bases, { recursive: true });
  cpSync(cases.file('modified', 'seattle_linux.tgz'), join(bases, 'seattle_linux.tgz'));
  cpSync(cases.file('other-key', 'seattle_win.zip'), join(bases, 'seattle_win.zip'));
  // The manifest lists the changed files as they are: only the software check can tell.
  const manifest = JSON.parse(readFileSync(join(bases, 'manifest.json'), 'utf8'));
  for (const entry of manifest.bases) {
    const bytes = readFileSync(join(bases, entry.file));
    entry.size = bytes.length;
    entry.sha256 = createHash('sha256').update(bytes).digest('hex');
  }
  writeFileSync(join(bases, 'manifest.json'), JSON.stringify(manifest));
  server = await startTestServer({ BASES_DIR: bases });
  const owner = readFileSync(cases.otherKey, 'utf8').trim();
  const body = `<?xml version="1.0"?><methodCall><methodName>build_installers</methodName><params>
<param><value><array><data><value><struct>
<member><name>percentage</name><value><int>80</int></value></member>
<member><name>owner</name><value><string>alex</string></value></member>
</struct></value></data></array></value></param>
<param><value><struct><member><name>alex</name><value><struct>
<member><name>public_key</name><value><string>${owner}</string></value></member>
</struct></value></member></struct></value></param>
</params></methodCall>`;
  const answer = await (
    await fetch(`${server.origin}/xmlrpc/`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'text/xml' },
    })
  ).text();
  const id = /<name>build_id<\/name><value><string>([a-z0-9]{40})</.exec(answer)?.[1];
  if (!id) throw new Error(answer);
  buildPath = `${server.origin}/${id}/installers`;
}, 120_000);
afterAll(() => server.stop());

describe('the server and the software check', () => {
  it('refuses to build from a modified base whose SHA-256 matches the manifest', async () => {
    const response = await fetch(`${buildPath}/linux/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('linux base installer is not available');
  });

  it('builds from a base signed by an unknown key, with a warning header', async () => {
    const response = await fetch(`${buildPath}/windows/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('X-CIB-Software-Warning')).toMatch(
      /^Seattle software signed by an unknown key/,
    );
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('builds from an intact demo base with no warning (the demo key is known by default)', async () => {
    const response = await fetch(`${buildPath}/android/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('X-CIB-Software-Warning')).toBeNull();
  });

  it('/healthz reports the verdict of every base', async () => {
    const health = (await (await fetch(`${server.origin}/healthz`)).json()) as {
      software: Record<string, { verdict: string; summary: string }>;
    };
    expect(
      Object.fromEntries(Object.entries(health.software).map(([k, v]) => [k, v.verdict])),
    ).toEqual({
      linux: 'modified',
      mac: 'intact',
      windows: 'unknown-key',
      android: 'intact',
    });
    expect(health.software.linux!.summary).toMatch(/^Modified: 1 file differs/);
  });
});
