// The page building from bases made as Seattle's own packaging makes them (listed files left out,
// unsigned scripts added, signed by the operator's key), served by the compiled server with that
// key in UPDATE_KEYS: real downloads read back with tar and unzip, the verdict with its calm notes,
// and a demo-key-signed base placed among them refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { clearinghouseHash } from '../../src/app/links.ts';
import {
  DEMO_KEYS,
  makeClones,
  packageBases,
  seattleBases,
  type SeattleBases,
} from '../support/seattle-bases.ts';
import {
  expectedVesselinfo,
  opensslKey,
  reservedSettings,
  saveDownload,
  tarEntry,
  unzipEntry,
  VESSELINFO_ENTRY,
} from './helpers.ts';
import { listeningOrigin } from '../support/server-process.ts';
import { restampManifest } from '../support/manifests.ts';

const work = mkdtempSync(join(tmpdir(), 'cib-e2e-seattle-'));
const servers: ChildProcess[] = [];
let bases: SeattleBases;
let origin: string;

/** The built page with `baseDir` as its bases, behind the compiled server trusting `key`. */
async function serve(baseDir: string, key: string): Promise<string> {
  const dist = mkdtempSync(join(work, 'dist-'));
  cpSync(resolve('dist'), dist, { recursive: true });
  rmSync(join(dist, 'base-installers'), { recursive: true, force: true });
  cpSync(baseDir, join(dist, 'base-installers'), { recursive: true });
  const server = spawn(process.execPath, [resolve('dist-node/server.mjs')], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_REQUESTS: '0',
      DATA_DIR: mkdtempSync(join(work, 'data-')),
      DIST_DIR: dist,
      BASES_DIR: join(dist, 'base-installers'),
      UPDATE_KEYS: key,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(server);
  return listeningOrigin(server);
}

test.beforeAll(async () => {
  bases = seattleBases();
  origin = await serve(bases.deploy, `${bases.key} # the operator's update key`);
});

test.afterAll(() => {
  for (const server of servers) server.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

function platformItem(page: Page, platform: string) {
  return page.locator(`li.platform[data-platform="${platform}"]`);
}

test("the page builds Linux and Windows installers from Seattle's own bases, and says what the signature does not cover", async ({
  page,
}) => {
  const owner = opensslKey(1024);
  const user = opensslKey(1024);
  const { reservedShare, reservedKey } = reservedSettings();
  const expected = expectedVesselinfo([
    { percent: 100 - reservedShare, owner: owner.seattle, users: [user.seattle] },
    { percent: reservedShare, owner: reservedKey, users: [] },
  ]);
  await page.goto(
    `${origin}/${clearinghouseHash({ owner: owner.seattle, users: [user.seattle] })}`,
  );
  for (const [platform, file] of [
    ['linux', 'seattle_linux.tgz'],
    ['windows', 'seattle_win.zip'],
  ] as const) {
    const item = platformItem(page, platform);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      item.getByRole('button', { name: `Download ${file}` }).click(),
    ]);
    const path = await saveDownload(download);
    await expect(item.getByRole('status')).toHaveText(`Saved ${file}.`);
    const vesselinfo =
      platform === 'linux' ? tarEntry(path, VESSELINFO_ENTRY) : unzipEntry(path, VESSELINFO_ENTRY);
    expect(vesselinfo).toBe(expected);
    // The verdict is green, with the notes of Seattle's packaging, each one line until clicked.
    const verdict = item.locator('[data-software]');
    await expect(verdict).toHaveAttribute('data-software', 'intact');
    await expect(verdict).toContainText("Seattle software signed by the operator's update key");
    const unsigned = item.locator('details[data-note="unsigned"]');
    await expect(unsigned.locator('summary')).toContainText(
      'not covered by the signature (the installer',
    );
    const script = platform === 'linux' ? 'install.sh' : 'install.bat';
    const entry = unsigned.locator('li', { hasText: `seattle/seattle_repy/${script}` });
    await expect(entry).toBeHidden();
    await unsigned.locator('summary').click();
    await expect(entry).toBeVisible();
    await expect(entry).toContainText(/sha256 [0-9a-f]{64}/);
    await expect(item.locator('details[data-note="left-out"] summary')).toContainText(
      "not in this installer; the node's updater fetches them",
    );
  }
});

test('inspect shows a Seattle base green, its unsigned scripts one click away', async ({
  page,
}) => {
  await page.goto(`${origin}/#/inspect`);
  await page
    .getByLabel('Installer file', { exact: true })
    .setInputFiles(join(bases.deploy, 'seattle_mac.tgz'));
  const verdict = page.locator('[data-software]');
  await expect(verdict).toHaveAttribute('data-software', 'intact');
  await expect(verdict).toHaveClass(/ok/);
  await page.locator('details[data-note="unsigned"] summary').click();
  await expect(page.locator('.unsigned-files')).toContainText(
    'seattle/seattle_repy/start_seattle.sh',
  );
});

test('a demo-key-signed base with a changed nmmain.py, placed among them, is refused by the page', async ({
  page,
}) => {
  const evil = join(work, 'evil');
  packageBases(
    makeClones(join(work, 'evil-clones'), DEMO_KEYS.publicKey, 'import os  # changed\n'),
    DEMO_KEYS,
    evil,
  );
  const mixed = join(work, 'mixed');
  cpSync(bases.deploy, mixed, { recursive: true });
  cpSync(join(evil, 'seattle_linux.tgz'), join(mixed, 'seattle_linux.tgz'));
  restampManifest(mixed, { 'seattle_linux.tgz': 'plain' });
  const mixedOrigin = await serve(mixed, bases.key);
  const owner = opensslKey(1024);
  await page.goto(`${mixedOrigin}/${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
  await platformItem(page, 'linux')
    .getByRole('button', { name: 'Download seattle_linux.tgz' })
    .click();
  await expect(
    page.getByText(
      /seattle_linux\.tgz was not saved\. The base installer is refused: Untrusted key: signed by the demo update key/,
    ),
  ).toBeVisible();
});
