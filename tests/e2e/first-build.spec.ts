// The first build a donor makes (fresh browser context, empty caches), the platform picked for
// the visitor's system, and what a first-time donor stumbles on, in Chromium against dist/.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devices, expect, test, type Page } from '@playwright/test';
import { clearinghouseHash } from '../../src/app/links.ts';
import {
  countBaseRequests,
  expectedVesselinfo,
  opensslKey,
  reservedSettings,
  saveDownload,
  tarEntry,
  tempDir,
  VESSELINFO_ENTRY,
} from './helpers.ts';

const { reservedShare, reservedKey } = reservedSettings();
const userShare = 100 - reservedShare;

const WINDOWS_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const MAC_UA =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

interface NodeVessel {
  name: string;
  percent: number;
  owner: string;
  users: string[];
  ports: [number, number];
}

/** The vessels tests/python/read_vesselinfo.py (the node's rules, in Python) reads from a file. */
function readVesselinfoInPython(text: string): NodeVessel[] {
  const file = join(tempDir(), 'vesselinfo');
  writeFileSync(file, text);
  return JSON.parse(
    execFileSync('python3', ['tests/python/read_vesselinfo.py', file], { encoding: 'utf8' }),
  ) as NodeVessel[];
}

function platformItem(page: Page, platform: string) {
  return page.locator(`li.platform[data-platform="${platform}"]`);
}

test.describe('the first build', () => {
  test('a fresh context builds the installer on the first click; tar and the Python reader accept it, and the base is fetched once', async ({
    page,
  }) => {
    // Playwright gives every test a new browser context: no HTTP cache, no Cache API entries.
    const owner = opensslKey(1024);
    const user = opensslKey(1024);
    const baseRequests = countBaseRequests(page, 'seattle_linux.tgz');
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    await page.goto(`./${clearinghouseHash({ owner: owner.seattle, users: [user.seattle] })}`);
    const linux = platformItem(page, 'linux');
    // Headless Chromium on Linux: the Linux installer is the one for this computer, listed first.
    await expect(linux.locator('h3')).toContainText('(this computer)');
    await expect(page.locator('li.platform').first()).toHaveAttribute('data-platform', 'linux');
    const button = linux.getByRole('button', { name: 'Download seattle_linux.tgz' });
    const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
    const path = await saveDownload(download);
    await expect(linux.getByRole('status')).toHaveText('Saved seattle_linux.tgz.');

    const expected = expectedVesselinfo([
      { percent: userShare, owner: owner.seattle, users: [user.seattle] },
      { percent: reservedShare, owner: reservedKey, users: [] },
    ]);
    const text = tarEntry(path, VESSELINFO_ENTRY);
    expect(text).toBe(expected);
    expect(
      readVesselinfoInPython(text).map((v) => [v.name, v.percent, v.owner, v.users, v.ports]),
    ).toEqual([
      ['v1', userShare, owner.seattle, [user.seattle], [63100, 63100 + userShare - 1]],
      ['v2', reservedShare, reservedKey, [], [63100 + userShare, 63100 + 100 - 1]],
    ]);
    // The background fetch and the click shared one download; one file was saved.
    expect(baseRequests).toHaveLength(1);
    expect(downloads).toEqual(['seattle_linux.tgz']);
  });

  test('a second click during a build does nothing, and a later click builds again', async ({
    page,
  }) => {
    const owner = opensslKey(1024);
    const downloads: string[] = [];
    page.on('download', (d) => downloads.push(d.suggestedFilename()));
    await page.goto(`./${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
    const windows = platformItem(page, 'windows');
    const button = windows.getByRole('button', { name: /^Download seattle_win/ });
    await expect(button).toBeVisible();
    // Two clicks in one task: the second lands while the first build is under way.
    await button.evaluate((b: HTMLButtonElement) => {
      b.click();
      b.click();
    });
    await expect(windows.getByRole('status')).toHaveText(/^Saved seattle_win/);
    // The browser reports downloads on its own schedule: let the first one arrive.
    await expect.poll(() => downloads.length).toBeGreaterThan(0);
    const [again] = await Promise.all([page.waitForEvent('download'), button.click()]);
    await again.path();
    // Builds run in order in the worker, so a duplicate would have been saved before this one.
    expect(downloads).toHaveLength(2);
  });

  test("the base's members are inflated by the pool's threads, and a later visit keeps the check's verdict", async ({
    page,
  }) => {
    const owner = opensslKey(1024);
    await page.goto(`./${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
    const linux = platformItem(page, 'linux');
    const button = linux.getByRole('button', { name: 'Download seattle_linux.tgz' });
    const first = await Promise.all([page.waitForEvent('download'), button.click()]);
    const firstText = tarEntry(await saveDownload(first[0]), VESSELINFO_ENTRY);
    // What the page's worker says about the base it checked (the timings bench:browser reads).
    const timings = async () => {
      const worker = page.workers().find((w) => w.url().includes('cib.worker'))!;
      return worker.evaluate(
        () =>
          (
            globalThis as unknown as {
              cibBaseTimings: {
                url: string;
                kept: boolean;
                source: string;
                pool?: { members: number; digests: number };
              }[];
            }
          ).cibBaseTimings,
      );
    };
    const [walked] = (await timings()).filter((t) => t.url.endsWith('/seattle_linux.tgz'));
    expect(walked).toMatchObject({ kept: false, source: 'network' });
    // Chromium's DecompressionStream passed the probe: the members went to the pool's threads,
    // and so did the files' digests.
    expect(walked!.pool!.members).toBeGreaterThan(0);
    expect(walked!.pool!.digests).toBeGreaterThan(0);

    // A later visit (same browser profile): the base comes from the Cache API and its verdict
    // from the kept check, so nothing is walked again; the installer is the same. (The worker
    // stores the base a moment after the build, out of the way of the first save.)
    await expect
      .poll(() =>
        page.evaluate(
          async () => (await (await caches.open('cib-base-installers-v1')).keys()).length,
        ),
      )
      .toBeGreaterThan(0);
    await page.reload();
    const again = await Promise.all([page.waitForEvent('download'), button.click()]);
    expect(tarEntry(await saveDownload(again[0]), VESSELINFO_ENTRY)).toBe(firstText);
    const [kept] = (await timings()).filter((t) => t.url.endsWith('/seattle_linux.tgz'));
    expect(kept).toMatchObject({ kept: true, source: 'cache' });
    expect(kept!.pool).toBeUndefined();
  });
});

test.describe('a Windows visitor', () => {
  test.use({ userAgent: WINDOWS_UA });

  test('gets the Windows installer first, fetched and checked before any click; the others are offered as plainly', async ({
    page,
  }) => {
    const owner = opensslKey(1024);
    const baseRequests = countBaseRequests(page);
    await page.goto(`./${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
    const windows = platformItem(page, 'windows');
    await expect(page.locator('li.platform').first()).toHaveAttribute('data-platform', 'windows');
    await expect(windows.locator('h3')).toContainText('(this computer)');
    await expect(windows.getByRole('status')).toHaveText(
      'The base installer is downloaded and checked.',
    );
    expect(baseRequests).toEqual(['seattle_win.zip']);
    for (const platform of ['linux', 'mac', 'android']) {
      await expect(platformItem(page, platform).getByRole('button')).toBeVisible();
      await expect(platformItem(page, platform).locator('h3')).not.toContainText('this computer');
    }
  });
});

test.describe('a Mac visitor', () => {
  test.use({ userAgent: MAC_UA });

  test('gets the macOS installer first', async ({ page }) => {
    const owner = opensslKey(1024);
    await page.goto(`./${clearinghouseHash({ owner: owner.seattle, users: [] })}`);
    await expect(page.locator('li.platform').first()).toHaveAttribute('data-platform', 'mac');
    await expect(platformItem(page, 'mac').locator('h3')).toContainText('(this computer)');
    await expect(platformItem(page, 'linux').locator('h3')).not.toContainText('this computer');
  });
});

test.describe('a first-time donor', () => {
  test('Add a vessel gives the new vessel the unassigned share first', async ({ page }) => {
    await page.goto('./');
    const first = page.getByLabel('Share of vessel 1');
    const total = page.locator('li[data-code="config.vessels.total"]');
    await first.selectOption(String(userShare - 30));
    await expect(total).toHaveCount(1);
    await page.getByRole('button', { name: 'Add a vessel' }).click();
    await expect(first).toHaveValue(String(userShare - 30));
    await expect(page.getByLabel('Share of vessel 2')).toHaveValue('30');
    await expect(total).toHaveCount(0);
  });

  test('the first user added owns the only vessel, and the person can change it', async ({
    page,
  }) => {
    await page.goto('./');
    const form = page.locator('form.user-form');
    const add = async (name: string) => {
      await form.getByLabel('Paste a public key').check();
      await form.getByLabel(/Public key \(Seattle/).fill(opensslKey(1024).seattle);
      await form.getByLabel('User name').fill(name);
      await form.getByRole('button', { name: 'Add user' }).click();
      await expect(form.getByRole('status')).toHaveText(`Added ${name}.`);
    };
    const vessel = page.locator('li.vessel[data-vessel="0"]');
    await add('alex');
    await expect(vessel.locator('.owner-slot .chip')).toHaveText('alex');
    await add('bob');
    await expect(vessel.locator('.owner-slot .chip')).toHaveText('alex');
    await vessel
      .getByRole('combobox', { name: 'Owner of vessel 1' })
      .selectOption({ label: 'bob' });
    await expect(vessel.locator('.owner-slot .chip')).toHaveText('bob');
  });
});

test.describe('a phone-sized screen', () => {
  const { viewport, userAgent, deviceScaleFactor, isMobile, hasTouch } = devices['Pixel 5'];
  test.use({ viewport, userAgent, deviceScaleFactor, isMobile, hasTouch });

  test('opens at the top, and focus moves only when the person changes step', async ({ page }) => {
    await page.goto('./');
    await expect(page.getByLabel('Share of vessel 1')).toBeVisible();
    await expect(page.getByRole('heading', { level: 1 })).toBeInViewport();
    expect(await page.evaluate(() => window.scrollY)).toBe(0);
    expect(await page.evaluate(() => document.activeElement === document.body)).toBe(true);

    await page.getByRole('link', { name: '2. Keys' }).click();
    await expect(page.locator('main')).toBeFocused();
  });
});
