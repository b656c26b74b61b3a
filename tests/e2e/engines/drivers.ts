/**
 * One small interface over the three engines a donor uses, each driven the way it can be from
 * Debian's packages (scripts/ensure-browsers.mjs installs them):
 * - Chromium through Playwright, as every other browser test;
 * - Firefox ESR over WebDriver BiDi with puppeteer-core (no geckodriver);
 * - WebKitGTK's MiniBrowser through WebKitWebDriver with selenium-webdriver, under xvfb-run since
 *   MiniBrowser has no headless mode.
 * Each saves downloads into its own folder, where the test reads the real saved file: Firefox by
 * its download preferences, MiniBrowser by the XDG download folder of the HOME its driver is
 * given, Chromium through Playwright's download events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import puppeteer from 'puppeteer-core';
import { Builder, By, until, type WebDriver } from 'selenium-webdriver';
import { CHROMIUM_ARGS } from '../../../playwright.config.ts';
import { tempDir } from '../helpers.ts';

export type EngineName = 'chromium' | 'firefox' | 'webkit';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
/** MiniBrowser sits in the multiarch library folder (scripts/ensure-browsers.mjs looks alike). */
export const MINIBROWSER =
  process.env.MINIBROWSER_PATH ??
  readdirSync('/usr/lib')
    .map((dir) => `/usr/lib/${dir}/webkit2gtk-4.1/MiniBrowser`)
    .find((path) => existsSync(path)) ??
  'MiniBrowser';

const WAIT_MS = 60_000;

export interface Driver {
  readonly name: EngineName;
  /** The browser's version, for the test's title and failures. */
  readonly version: string;
  /** Where the browser saves downloads. */
  readonly downloads: string;
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  /** Clicks the element the XPath finds, once it is shown and enabled. */
  click(xpath: string): Promise<void>;
  /** Chooses a file in the `<input type="file">` the XPath finds. */
  upload(xpath: string, file: string): Promise<void>;
  /** The value of a JavaScript expression in the page; a promise is awaited. */
  evaluate<T>(expression: string): Promise<T>;
  /** Errors the driver itself reports (console errors, uncaught errors), where it has a channel. */
  errors(): string[];
  close(): Promise<void>;
}

export async function launch(name: EngineName): Promise<Driver> {
  const downloads = join(tempDir(), 'downloads');
  mkdirSync(downloads);
  if (name === 'chromium') return launchChromium(downloads);
  if (name === 'firefox') return launchFirefox(downloads);
  return launchWebKit(downloads);
}

async function launchChromium(downloads: string): Promise<Driver> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  // Playwright holds downloads itself; each is saved under its own name, as a browser would.
  page.on('download', (d) => void d.saveAs(join(downloads, d.suggestedFilename())));
  return {
    name: 'chromium',
    version: browser.version(),
    downloads,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    click: (xpath) => page.locator(`xpath=${xpath}`).click({ timeout: WAIT_MS }),
    upload: (xpath, file) => page.locator(`xpath=${xpath}`).setInputFiles(file),
    evaluate: (expression) => page.evaluate(expression),
    errors: () => errors,
    close: () => browser.close(),
  };
}

async function launchFirefox(downloads: string): Promise<Driver> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    timeout: WAIT_MS, // a start-up on a busy two-core machine can take a while
    extraPrefsFirefox: {
      // Save every download into `downloads` without asking.
      'browser.download.dir': downloads,
      'browser.download.folderList': 2,
      'browser.download.useDownloadDir': true,
      'browser.download.always_ask_before_handling_new_types': false,
      'browser.download.start_downloads_in_tmp_dir': false,
    },
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${String(e)}`));
  const find = async (xpath: string) => {
    const handle = await page.waitForSelector(`::-p-xpath(${xpath})`, {
      visible: true,
      timeout: WAIT_MS,
    });
    if (!handle) throw new Error(`Firefox: nothing matches ${xpath}`);
    return handle;
  };
  return {
    name: 'firefox',
    version: await browser.version(),
    downloads,
    goto: async (url) => void (await page.goto(url)),
    reload: async () => void (await page.reload()),
    click: async (xpath) => {
      const handle = await find(xpath);
      await page.waitForFunction((el) => !(el as HTMLButtonElement).disabled, {}, handle);
      await handle.click();
    },
    upload: async (xpath, file) => {
      const handle = await page.waitForSelector(`::-p-xpath(${xpath})`, { timeout: WAIT_MS });
      if (!handle) throw new Error(`Firefox: nothing matches ${xpath}`);
      await (handle as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(file);
    },
    evaluate: (expression) => page.evaluate(expression) as never,
    errors: () => errors,
    close: () => browser.close(),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function launchWebKit(downloads: string): Promise<Driver> {
  // MiniBrowser saves downloads into the XDG download folder of its HOME: a folder of our own.
  const home = tempDir();
  mkdirSync(join(home, '.config'));
  writeFileSync(join(home, '.config', 'user-dirs.dirs'), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  const port = await freePort();
  const service: ChildProcess = spawn(
    'xvfb-run',
    ['--auto-servernum', WEBKIT_DRIVER, `--port=${port}`],
    {
      detached: true, // its own process group, so closing ends xvfb-run, Xvfb and the driver
      stdio: 'ignore',
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
    },
  );
  const stop = () => {
    try {
      if (service.pid) process.kill(-service.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  let driver: WebDriver | undefined;
  const started = Date.now();
  try {
    for (;;) {
      try {
        driver = await new Builder()
          .usingServer(`http://127.0.0.1:${port}`)
          .withCapabilities({
            browserName: 'MiniBrowser',
            'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
          })
          .build();
        break;
      } catch (error) {
        // The driver (and Xvfb under it) takes a moment to listen.
        if (Date.now() - started > 30_000) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } catch (error) {
    stop();
    throw error;
  }
  const session = driver;
  const capabilities = await session.getCapabilities();
  const find = async (xpath: string) => {
    const element = await session.wait(until.elementLocated(By.xpath(xpath)), WAIT_MS);
    await session.wait(until.elementIsVisible(element), WAIT_MS);
    return element;
  };
  return {
    name: 'webkit',
    version: `${String(capabilities.get('browserName'))} ${String(capabilities.get('browserVersion'))}`,
    downloads,
    goto: (url) => session.get(url),
    reload: () => session.navigate().refresh(),
    click: async (xpath) => {
      const element = await find(xpath);
      await session.wait(until.elementIsEnabled(element), WAIT_MS);
      await element.click();
    },
    upload: async (xpath, file) => {
      const element = await session.wait(until.elementLocated(By.xpath(xpath)), WAIT_MS);
      await element.sendKeys(file);
    },
    evaluate: (expression) => session.executeScript(`return (${expression});`),
    // WebKitWebDriver reports no console: the page's recorder (tests/e2e/serve.ts) does.
    errors: () => [],
    close: async () => {
      try {
        await session.quit();
      } finally {
        stop();
      }
    },
  };
}
