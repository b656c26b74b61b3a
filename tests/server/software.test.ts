/**
 * The server's Node-side build runs the software check under the deployment's trust: a base whose
 * files differ from its signed metainfo is refused even though the manifest's SHA-256 matches it,
 * a base signed by a key the deployment does not trust is refused, the demo key counts only while
 * every base is signed by it, and /healthz and /config.json say so.
 */
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSoftwareCases, type CaseFiles } from '../support/software-cases.ts';
import { BASES_DIR, startTestServer, type TestServer } from './helpers.ts';
import { restampManifest } from '../support/manifests.ts';

let cases: CaseFiles;
let mixed: TestServer;
let demo: TestServer;
let demoBases: string;
let mixedBuild: string;
let demoBuild: string;

/** The demo bases with some replaced; the manifest lists every file as it is. */
function deployment(replace: Record<string, string>, into?: string): string {
  const bases = into ?? mkdtempSync(join(tmpdir(), 'cib-software-bases-'));
  if (!into) cpSync(BASES_DIR, bases, { recursive: true });
  for (const [file, from] of Object.entries(replace)) cpSync(from, join(bases, file));
  restampManifest(bases);
  return bases;
}

async function build(server: TestServer, owner: string): Promise<string> {
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
  return `${server.origin}/${id}/installers`;
}

beforeAll(async () => {
  cases = makeSoftwareCases(['seattle_linux.tgz', 'seattle_win.zip']);
  const otherKey = readFileSync(cases.otherKey, 'utf8').trim();
  // Among the demo bases: a modified one, and one signed by the operator's own key.
  mixed = await startTestServer({
    BASES_DIR: deployment({
      'seattle_linux.tgz': cases.file('modified', 'seattle_linux.tgz'),
      'seattle_win.zip': cases.file('other-key', 'seattle_win.zip'),
    }),
    UPDATE_KEYS: `${otherKey} # the operator's key`,
  });
  demoBases = deployment({});
  demo = await startTestServer({ BASES_DIR: demoBases });
  mixedBuild = await build(mixed, otherKey);
  demoBuild = await build(demo, otherKey);
}, 120_000);
afterAll(async () => {
  await mixed.stop();
  await demo.stop();
});

describe('the server and the software check', () => {
  it('refuses to build from a modified base whose SHA-256 matches the manifest', async () => {
    const response = await fetch(`${mixedBuild}/linux/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('linux base installer is not available');
  });

  it("builds from a base signed by the operator's key, trusted through UPDATE_KEYS", async () => {
    const response = await fetch(`${mixedBuild}/windows/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('X-CIB-Software-Warning')).toBeNull();
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('refuses the demo bases once any base is signed by another key', async () => {
    const response = await fetch(`${mixedBuild}/android/`);
    expect(response.status).toBe(503);
    const health = (await (await fetch(`${mixed.origin}/healthz`)).json()) as {
      software: Record<string, { verdict: string; summary: string }>;
    };
    expect(
      Object.fromEntries(Object.entries(health.software).map(([k, v]) => [k, v.verdict])),
    ).toEqual({
      linux: 'modified',
      mac: 'untrusted-key',
      windows: 'intact',
      android: 'untrusted-key',
    });
    expect(health.software.linux!.summary).toMatch(/^Modified: 1 file differs/);
    expect(health.software.mac!.summary).toMatch(/^Untrusted key: signed by the demo update key/);
    expect(health.software.windows!.summary).toMatch(/signed by the operator's key/);
    const config = (await (await fetch(`${mixed.origin}/config.json`)).json()) as Record<
      string,
      unknown
    >;
    expect(config.demoBases).toBeUndefined();
    expect(JSON.stringify(config.updateKeys)).not.toContain('60af');
  });

  it('a deployment of demo bases only trusts the demo key, and its config.json pins them', async () => {
    const response = await fetch(`${demoBuild}/android/`);
    expect(response.status).toBe(200);
    const health = (await (await fetch(`${demo.origin}/healthz`)).json()) as {
      software: Record<string, { verdict: string; summary: string }>;
    };
    expect(Object.values(health.software).map((v) => v.verdict)).toEqual([
      'intact',
      'intact',
      'intact',
      'intact',
    ]);
    expect(health.software.linux!.summary).toMatch(/signed by the demo update key/);
    const config = (await (await fetch(`${demo.origin}/config.json`)).json()) as {
      demoBases?: string[];
      updateKeys: unknown[];
    };
    const manifest = JSON.parse(readFileSync(join(BASES_DIR, 'manifest.json'), 'utf8')) as {
      bases: { sha256: string }[];
    };
    expect(config.demoBases).toEqual(manifest.bases.map((b) => b.sha256));
    expect(config.updateKeys).toEqual([]);
  });
});

describe('the demo key, decided from the files as they are now', () => {
  it('stops counting, for installers already built too, once one base is replaced by a real one', async () => {
    expect((await fetch(`${demoBuild}/android/`)).status).toBe(200);
    deployment({ 'seattle_win.zip': cases.file('other-key', 'seattle_win.zip') }, demoBases);
    const response = await fetch(`${demoBuild}/android/`);
    expect(response.status).toBe(503);
    const config = (await (await fetch(`${demo.origin}/config.json`)).json()) as Record<
      string,
      unknown
    >;
    expect(config.demoBases).toBeUndefined();
  });
});
