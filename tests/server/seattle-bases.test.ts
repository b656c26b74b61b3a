/**
 * The compiled server (`npm start`'s dist-node/server.mjs) serving bases made as Seattle's own
 * packaging makes them: Python's xmlrpc.client and urllib download every platform's installer
 * (tests/server/python/installers.py), which holds the configured vesselinfo and the unsigned
 * scripts as they were. Among those bases, a demo-key-signed one is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_KEYS, makeClones, packageBases, seattleBases } from '../support/seattle-bases.ts';
import { ROOT } from '../support/tools.ts';
import { runPython } from './helpers.ts';
import { listeningOrigin } from '../support/server-process.ts';
import { restampManifest } from '../support/manifests.ts';

const work = mkdtempSync(join(tmpdir(), 'cib-seattle-server-'));
const servers: ChildProcess[] = [];

/** Starts the compiled server on a free port with `bases` as its only bases; its origin. */
async function startCompiled(bases: string, updateKeys: string): Promise<string> {
  const dist = mkdtempSync(join(work, 'dist-'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>cib test page</title>\n');
  cpSync(bases, join(dist, 'base-installers'), { recursive: true });
  const server = spawn(process.execPath, [join(ROOT, 'dist-node/server.mjs')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_REQUESTS: '0',
      DATA_DIR: mkdtempSync(join(work, 'data-')),
      DIST_DIR: dist,
      BASES_DIR: join(dist, 'base-installers'),
      UPDATE_KEYS: updateKeys,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(server);
  return listeningOrigin(server);
}

let origin: string;

beforeAll(async () => {
  const bases = seattleBases();
  origin = await startCompiled(bases.deploy, bases.key);
}, 120_000);

afterAll(() => {
  for (const server of servers) server.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe("the compiled server with Seattle's own bases", () => {
  it('answers the clearinghouse call, and every installer URL gives the installer with the vesselinfo', async () => {
    const bases = seattleBases();
    const downloads = join(work, 'downloads');
    mkdirSync(downloads);
    const out = await runPython('installers.py', [`${origin}/xmlrpc/`, bases.deploy, downloads]);
    const alice = '12345 54321';
    const bob = '3 1000003';
    for (const platform of ['linux', 'mac', 'windows', 'android']) {
      const got = out.platforms[platform];
      expect(got.status).toBe(200);
      const lines = (got.vesselinfo as string).split('\n');
      expect(lines.slice(0, 3)).toEqual(['Percent 60', `Owner ${alice}`, `User ${bob}`]);
      expect(lines[3]).toBe('Percent 20');
      expect(got.extracted_vesselinfo).toBe(got.vesselinfo);
      // Nothing but the vesselinfo was added: the unsigned scripts travel as they were.
      const added = (got.names as string[]).filter(
        (n) => !(got.base_names as string[]).includes(n),
      );
      expect(added).toEqual(['seattle/seattle_repy/vesselinfo']);
      const script = platform === 'windows' ? 'install.bat' : 'install.sh';
      expect(got.names).toContain(`seattle/seattle_repy/${script}`);
    }
    // The fixture's wrapper runs the installer inside, as Seattle's does.
    expect(out.dry_run.status).toBe(0);
    expect(out.dry_run.stdout).toContain('install.sh');
  });

  it('/healthz calls every base intact, with the notes of Seattle’s packaging', async () => {
    const health = (await (await fetch(`${origin}/healthz`)).json()) as {
      status: string;
      software: Record<string, { verdict: string; notes: string[] }>;
    };
    expect(health.status).toBe('ok');
    for (const [platform, software] of Object.entries(health.software)) {
      expect(software.verdict, platform).toBe('intact');
      expect(software.notes.join(' ')).toMatch(/not in this installer; the node's updater fetches/);
    }
  });

  it('refuses a demo-key-signed base with a changed nmmain.py placed among them', async () => {
    const bases = seattleBases();
    const evil = join(work, 'evil');
    packageBases(
      makeClones(join(work, 'evil-clones'), DEMO_KEYS.publicKey, 'import os  # changed\n'),
      DEMO_KEYS,
      evil,
    );
    const mixed = join(work, 'mixed');
    cpSync(bases.deploy, mixed, { recursive: true });
    cpSync(join(evil, 'seattle_win.zip'), join(mixed, 'seattle_win.zip'));
    restampManifest(mixed);
    const mixedOrigin = await startCompiled(mixed, bases.key);
    const health = (await (await fetch(`${mixedOrigin}/healthz`)).json()) as {
      software: Record<string, { verdict: string; summary: string }>;
    };
    expect(health.software.windows!.verdict).toBe('untrusted-key');
    expect(health.software.windows!.summary).toContain('signed by the demo update key');
    expect(health.software.linux!.verdict).toBe('intact');
    const config = (await (await fetch(`${mixedOrigin}/config.json`)).json()) as Record<
      string,
      unknown
    >;
    expect(config.demoBases).toBeUndefined();
    const downloads = join(work, 'mixed-downloads');
    mkdirSync(downloads);
    const call = await runPython('installers.py', [
      `${mixedOrigin}/xmlrpc/`,
      mixed,
      downloads,
    ]).catch((error: { stderr?: string }) => error.stderr ?? String(error));
    // urllib raises on the 503 for the windows installer.
    expect(String(call)).toMatch(/HTTP Error 503/);
  });
});
