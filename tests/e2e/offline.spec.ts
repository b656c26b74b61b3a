// Offline after the first visit (README, "Offline"), in Chromium: the service worker keeps the
// page, its settings and the manifest; the page's worker keeps the bases it verified. Served
// under a sub-path by a server of the test's own, which the test shuts down to go offline.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { clearinghouseHash } from '../../src/app/links.ts';
import {
  expectedVesselinfo,
  opensslKey,
  reservedSettings,
  saveDownload,
  tarEntry,
  tempDir,
  VESSELINFO_ENTRY,
} from './helpers.ts';
import { serveFolders } from './serve.ts';

const { reservedShare, reservedKey } = reservedSettings();

/** Every cache of the origin and the addresses it holds. */
function cacheContents(page: Page): Promise<Record<string, string[]>> {
  return page.evaluate(async () => {
    const out: Record<string, string[]> = {};
    for (const name of await caches.keys())
      out[name] = (await (await caches.open(name)).keys()).map((r) => r.url).sort();
    return out;
  });
}

/** Resolves once the service worker controls the page. */
async function controlled(page: Page): Promise<void> {
  await expect
    .poll(() => page.evaluate(() => navigator.serviceWorker.controller !== null), {
      timeout: 30_000,
    })
    .toBe(true);
}

function buildId(dir: string): string {
  const id = /<meta name="cib-build" content="([0-9a-f]+)"/.exec(
    readFileSync(join(dir, 'index.html'), 'utf8'),
  )?.[1];
  if (!id) throw new Error(`${dir}/index.html carries no build id.`);
  return id;
}

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

test('after one visit the page reloads and builds offline, byte for byte the same installer', async ({
  context,
  page,
}) => {
  const sub = '/deep/sub/path/';
  const server = await serveFolders({ [sub]: 'dist' });
  const errors = watchErrors(page);
  const owner = opensslKey(1024);
  const user = opensslKey(1024);
  const link = `${server.url}${clearinghouseHash({ owner: owner.seattle, users: [user.seattle] })}`;
  const linux = page.locator('li.platform[data-platform="linux"]');
  const download = async () => {
    const [saved] = await Promise.all([
      page.waitForEvent('download'),
      linux.getByRole('button', { name: 'Download seattle_linux.tgz' }).click(),
    ]);
    return saveDownload(saved);
  };

  await page.goto(link);
  await expect(linux.locator('h3')).toHaveText('Linux (this computer)');
  const online = await download();
  await expect(linux.getByRole('status')).toHaveText('Saved seattle_linux.tgz.');
  await controlled(page);
  // The base is kept by the page's worker once verified (its write ends after the download).
  await expect
    .poll(async () => Object.values(await cacheContents(page)).flat())
    .toContainEqual(
      expect.stringMatching(/\/base-installers\/seattle_linux\.tgz\?sha256=[0-9a-f]{64}$/),
    );

  // Only our own static files and the verified bases are kept, all under the sub-path.
  const kept = await cacheContents(page);
  const shell = `cib-shell:${sub}:${buildId('dist')}`;
  expect(Object.keys(kept).sort()).toEqual(['cib-base-installers-v1', shell]);
  const root = `${server.base}${sub}`;
  for (const url of kept[shell] ?? [])
    expect(url).toMatch(
      new RegExp(
        `^${root}(index\\.html|favicon\\.svg|manifest\\.webmanifest|config\\.json|base-installers/manifest\\.json|assets/[\\w.-]+\\.(js|css))$`,
      ),
    );
  expect(kept[shell]).toContain(`${root}config.json`);
  expect(kept[shell]).toContain(`${root}base-installers/manifest.json`);
  for (const url of kept['cib-base-installers-v1'] ?? [])
    expect(url).toMatch(new RegExp(`^${root}base-installers/seattle_\\w+\\.(tgz|zip)\\?sha256=`));

  // Offline: the browser says so, and the server is gone, so no request can reach it.
  await context.setOffline(true);
  await server.close();
  await page.reload();
  await expect(page.locator('.offline-banner')).toContainText('You are offline.');
  await expect(page.locator('.offline-note')).toHaveText(
    /^You are offline\. Installers can still be built for Linux: their base installers are kept on this device\. .*need the network\.$/,
  );
  const offline = await download();
  await expect(linux.getByRole('status')).toHaveText('Saved seattle_linux.tgz.');
  expect(readFileSync(offline).equals(readFileSync(online))).toBe(true);
  expect(tarEntry(offline, VESSELINFO_ENTRY)).toBe(
    expectedVesselinfo([
      { percent: 100 - reservedShare, owner: owner.seattle, users: [user.seattle] },
      { percent: reservedShare, owner: reservedKey, users: [] },
    ]),
  );
  // A platform whose base was never fetched says why it cannot be built.
  const mac = page.locator('li.platform[data-platform="mac"]');
  await mac.getByRole('button', { name: 'Download seattle_mac.tgz' }).click();
  await expect(mac.getByRole('alert')).toContainText('could not be downloaded');

  // Back online, the notices go.
  await context.setOffline(false);
  await expect(page.locator('.offline-banner')).toHaveCount(0);
  // The one request that fails is the Mac base's, which the test asked for offline.
  expect(errors.filter((e) => !e.includes('net::ERR_INTERNET_DISCONNECTED'))).toEqual([]);
});

test('a new deployment replaces its old cache whole and drops the bases its manifest no longer lists; another sub-path keeps its own', async ({
  page,
}) => {
  const copy = tempDir();
  cpSync('dist', copy, { recursive: true });
  const server = await serveFolders({ '/a/': copy, '/b/': 'dist' });
  const errors = watchErrors(page);
  const id = buildId(copy);
  const owner = opensslKey(1024);
  const linux = page.locator('li.platform[data-platform="linux"]');
  const download = async () => {
    const [saved] = await Promise.all([
      page.waitForEvent('download'),
      linux.getByRole('button', { name: 'Download seattle_linux.tgz' }).click(),
    ]);
    return saveDownload(saved);
  };
  const keptBases = async () => (await cacheContents(page))['cib-base-installers-v1'] ?? [];
  const manifestFile = join(copy, 'base-installers', 'manifest.json');
  type Manifest = { bases: { platform: string; file: string; size: number; sha256: string }[] };
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  const entry = (platform: string) => manifest.bases.find((b) => b.platform === platform)!;
  const oldBase = `${server.base}/a/base-installers/seattle_linux.tgz?sha256=${entry('linux').sha256}`;
  try {
    await page.goto(`${server.base}/b/`);
    await controlled(page);
    await page.goto(`${server.base}/a/${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
    await download();
    await controlled(page);
    await expect.poll(keptBases).toEqual([oldBase]);
    await expect
      .poll(async () => Object.keys(await cacheContents(page)).sort())
      .toEqual(['cib-base-installers-v1', `cib-shell:/a/:${id}`, `cib-shell:/b/:${id}`]);

    // A new deployment of /a/: a new build (its service worker and index.html carry a new id) and
    // a new Linux base (the demo macOS base's bytes, listed under the Linux name).
    const next = 'f'.repeat(16);
    for (const file of ['sw.js', 'index.html']) {
      const path = join(copy, file);
      writeFileSync(path, readFileSync(path, 'utf8').replaceAll(id, next));
    }
    cpSync(
      join(copy, 'base-installers', 'seattle_mac.tgz'),
      join(copy, 'base-installers', 'seattle_linux.tgz'),
    );
    Object.assign(entry('linux'), { size: entry('mac').size, sha256: entry('mac').sha256 });
    writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));

    await page.reload();
    await expect
      .poll(async () => Object.keys(await cacheContents(page)).sort(), { timeout: 30_000 })
      .toEqual(['cib-base-installers-v1', `cib-shell:/a/:${next}`, `cib-shell:/b/:${id}`]);
    // The fresh manifest no longer lists the old base's SHA-256: it is no longer kept.
    await expect.poll(keptBases).not.toContain(oldBase);
    await page.reload();
    expect(
      await page.evaluate(() =>
        document.querySelector('meta[name="cib-build"]')?.getAttribute('content'),
      ),
    ).toBe(next);
    // The next build fetches and keeps the new base.
    const rebuilt = await download();
    expect(tarEntry(rebuilt, VESSELINFO_ENTRY)).toContain(`Owner ${owner.seattle}`);
    await expect
      .poll(keptBases)
      .toEqual([
        `${server.base}/a/base-installers/seattle_linux.tgz?sha256=${entry('mac').sha256}`,
      ]);
    expect(errors).toEqual([]);
  } finally {
    await server.close();
  }
});

test('the page is installable: its web app manifest names the page and its icon', async ({
  page,
}) => {
  await page.goto('./');
  const session = await page.context().newCDPSession(page);
  const manifest = (await session.send('Page.getAppManifest')) as {
    url: string;
    errors: { message: string }[];
    data: string;
  };
  expect(manifest.url).toMatch(/\/manifest\.webmanifest$/);
  expect(manifest.errors).toEqual([]);
  const data = JSON.parse(manifest.data) as { name: string; icons: { src: string }[] };
  expect(data.name).toBe('Seattle Custom Installer Builder');
  expect(data.icons.map((i) => i.src)).toEqual(['favicon.svg']);
  const icon = await page.request.get('favicon.svg');
  expect(icon.ok()).toBe(true);
});
