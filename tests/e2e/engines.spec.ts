// The page's main flows in each engine a donor uses: Chromium, Firefox ESR and WebKit (Safari's
// engine), from Debian's packages (tests/e2e/engines/drivers.ts). Each engine opens a test copy of
// dist/ under a sub-path, whose recorder script (tests/e2e/serve.ts) catches every error and
// Content-Security-Policy violation; any one fails the flow. The last flow takes the server away
// and builds again from what the first visit kept.
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { clearinghouseHash } from '../../src/app/links.ts';
import { fingerprint } from '../../src/core/keys.ts';
import { launch, type Driver, type EngineName } from './engines/drivers.ts';
import {
  expectedVesselinfo,
  opensslKey,
  privateKeyMatchesInPython,
  reservedSettings,
  tarEntry,
  tempDir,
  unzipEntry,
  VESSELINFO_ENTRY,
} from './helpers.ts';
import { serveFolders, testCopyOfDist, type Served } from './serve.ts';

const ENGINES: EngineName[] = ['chromium', 'firefox', 'webkit'];
const { reservedShare, reservedKey } = reservedSettings();
const userShare = 100 - reservedShare;

const button = (text: string) => `//button[normalize-space()="${text}"]`;

/** Polls `expression` in the page until it is truthy. */
async function waitFor(driver: Driver, expression: string, what: string, ms = 60_000) {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    last = await driver.evaluate(expression).catch((error: unknown) => String(error));
    if (last === true) return;
    if (Date.now() > until) throw new Error(`${driver.name}: ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The text of the first element `selector` finds, as the page shows it. */
function textOf(selector: string): string {
  return `document.querySelector(${JSON.stringify(selector)})?.textContent?.trim()`;
}

/**
 * Clicks and waits for the browser to save `name` in its download folder: the one file there,
 * whole (no partial file beside it, the same size twice in a row). Returns where it was moved.
 */
async function download(driver: Driver, xpath: string, name: string): Promise<string> {
  for (const file of readdirSync(driver.downloads)) rmSync(join(driver.downloads, file));
  await driver.click(xpath);
  const path = join(driver.downloads, name);
  const until = Date.now() + 60_000;
  let size = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    const files = readdirSync(driver.downloads);
    if (files.length === 1 && files[0] === name && existsSync(path)) {
      const now = statSync(path).size;
      if (now > 0 && now === size) {
        // Moved out, so the next download finds the folder empty again.
        const kept = join(tempDir(), name);
        renameSync(path, kept);
        return kept;
      }
      size = now;
    }
    if (Date.now() > until)
      throw new Error(`${driver.name}: ${name} was not saved (folder: ${files.join(', ')})`);
  }
}

for (const engine of ENGINES) {
  test.describe.serial(`${engine}`, () => {
    let driver: Driver;
    let server: Served;
    let page: string;
    const owner = opensslKey(1024);
    const user = opensslKey(1024);
    let link = '';
    let installer = '';

    test.beforeAll(async () => {
      server = await serveFolders({ '/builder/': testCopyOfDist() });
      page = server.url;
      link = `${page}${clearinghouseHash({ owner: owner.seattle, users: [user.seattle] })}`;
      driver = await launch(engine);
      console.log(`${engine}: ${driver.version}`);
    });

    test.afterAll(async () => {
      await driver?.close();
      await server?.close();
    });

    test.afterEach(async () => {
      const recorded = await driver
        .evaluate<string[] | null>('window.__cibErrors ?? null')
        .catch(() => null);
      expect(recorded, 'the recorder script ran').not.toBeNull();
      expect([...(recorded ?? []), ...driver.errors()], 'errors and CSP violations').toEqual([]);
    });

    test('the page loads', async () => {
      await driver.goto(page);
      await waitFor(
        driver,
        `${textOf('h1')} === 'Seattle Custom Installer Builder' && !!document.querySelector('nav a')`,
        'the page did not load',
      );
    });

    test('a clearinghouse #/get link downloads an installer that tar reads back', async () => {
      await driver.goto(link);
      await waitFor(
        driver,
        `${textOf('li.platform[data-platform="linux"] h3')} === 'Linux (this computer)'`,
        'Linux is not offered as this computer',
      );
      installer = await download(driver, button('Download seattle_linux.tgz'), 'seattle_linux.tgz');
      expect(tarEntry(installer, VESSELINFO_ENTRY)).toBe(
        expectedVesselinfo([
          { percent: userShare, owner: owner.seattle, users: [user.seattle] },
          { percent: reservedShare, owner: reservedKey, users: [] },
        ]),
      );
    });

    test('the fast lane generates a key and downloads the keys and an installer', async () => {
      await driver.goto(`${page}#/fast`);
      await driver.click(button('Make my installer'));
      const privateZip = await download(
        driver,
        button('Download private_keys.zip'),
        'private_keys.zip',
      );
      const publicZip = await download(
        driver,
        button('Download public_keys.zip'),
        'public_keys.zip',
      );
      const publicKey = unzipEntry(publicZip, 'public_keys/user.publickey');
      const privateKey = unzipEntry(privateZip, 'private_keys/user.privatekey');
      expect(privateKeyMatchesInPython(publicKey, privateKey)).toBe(true);
      const path = await download(
        driver,
        button('Download seattle_linux.tgz'),
        'seattle_linux.tgz',
      );
      expect(tarEntry(path, VESSELINFO_ENTRY)).toBe(
        expectedVesselinfo([
          { percent: userShare, owner: publicKey, users: [] },
          { percent: reservedShare, owner: reservedKey, users: [] },
        ]),
      );
    });

    test('inspect reads an installer and shows its vessels', async () => {
      await driver.goto(`${page}#/inspect`);
      await driver.upload('//input[@type="file"]', installer);
      await waitFor(
        driver,
        `document.querySelectorAll('tr[data-vessel]').length === 2 && ${textOf('tr[data-vessel="v1"] [data-field="percent"]')} === '${userShare}%'`,
        'inspect shows no vessels',
      );
      const owners = await driver.evaluate<string>(
        textOf('tr[data-vessel="v1"] [data-field="owner"]'),
      );
      expect(owners).toContain(fingerprint(owner.seattle));
    });

    test('offline, the page reloads and builds the same installer again', async () => {
      await driver.goto(link);
      await waitFor(
        driver,
        `navigator.serviceWorker.ready.then(() => navigator.serviceWorker.controller !== null)`,
        'no service worker controls the page',
      );
      await waitFor(
        driver,
        `caches.open('cib-base-installers-v1').then((c) => c.keys()).then((keys) => keys.some((r) => r.url.includes('/seattle_linux.tgz?sha256=')))`,
        'the Linux base is not kept',
      );
      await server.close();
      await driver.reload();
      await waitFor(
        driver,
        `${textOf('li.platform[data-platform="linux"] h3')} === 'Linux (this computer)'`,
        'the page did not load offline',
      );
      const again = await download(
        driver,
        button('Download seattle_linux.tgz'),
        'seattle_linux.tgz',
      );
      expect(readFileSync(again).equals(readFileSync(installer))).toBe(true);
    });
  });
}
