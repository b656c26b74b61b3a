// Share links, clearinghouse links, Inspect, How it works and the Content-Security-Policy, in
// Chromium against the built dist/. Downloads are opened with GNU tar and Python's tarfile.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { clearinghouseHash, shareHash } from '../../src/app/links.ts';
import type { ResolvedConfig } from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { fingerprint } from '../../src/core/keys.ts';

const VESSELINFO = 'seattle/seattle_repy/vesselinfo';
const reservedKey = (
  JSON.parse(readFileSync('dist/config.json', 'utf8')) as { reservedKey: string }
).reservedKey.trim();

/**
 * A linux base as real operators make them: the signed demo base repacked entry by entry with
 * Python's tarfile, `w:gz` (tests/python/mutate_base.py), so its software check still holds.
 */
const MUTATE_BASE = 'tests/python/mutate_base.py';
const DEMO_LINUX = 'base-installers/seattle_linux.tgz';
/** A tgz whose vesselinfo the node refuses: the percentages add up to 90. */
const PYTHON_BAD_INSTALLER = `
import io, sys, tarfile
text = ('Percent 90\\nOwner ' + sys.argv[2]).encode()
with tarfile.open(sys.argv[1], 'w:gz') as tar:
    info = tarfile.TarInfo('${VESSELINFO}'); info.size = len(text)
    tar.addfile(info, io.BytesIO(text))
`;

let base: Buffer;
let baseListing: string[];
let ownerKey: string;
let userKey: string;
let otherKey: string;

test.beforeAll(async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'cib-e2e-')), 'seattle_linux.tgz');
  execFileSync('python3', [MUTATE_BASE, DEMO_LINUX, path, 'copy']);
  base = readFileSync(path);
  baseListing = execFileSync('tar', ['-tzf', path], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((entry) => entry.replace(/\/$/, ''));
  [ownerKey, userKey, otherKey] = (
    await Promise.all([generateKeyPair(1024), generateKeyPair(1024), generateKeyPair(1024)])
  ).map((pair) => pair.publicKey) as [string, string, string];
});

/**
 * Serves the Python-made base and its manifest where config.json says the bases are, and the
 * config.json a build of that deployment writes: its one base is signed by the demo update key,
 * so `demoBases` pins it (docs/keys.md).
 */
async function serveBase(context: BrowserContext): Promise<void> {
  const config = {
    ...(JSON.parse(readFileSync('dist/config.json', 'utf8')) as Record<string, unknown>),
    demoBases: [createHash('sha256').update(base).digest('hex')],
  };
  await context.route('**/config.json', (route) => route.fulfill({ json: config }));
  const manifest = {
    version: 'e2e',
    bases: [
      {
        platform: 'linux',
        file: 'seattle_linux.tgz',
        size: base.length,
        sha256: createHash('sha256').update(base).digest('hex'),
        layout: 'plain',
      },
    ],
  };
  await context.route('**/base-installers/manifest.json', (route) =>
    route.fulfill({ json: manifest }),
  );
  await context.route('**/base-installers/seattle_linux.tgz', (route) =>
    route.fulfill({ body: base, contentType: 'application/gzip' }),
  );
}

interface Watched {
  violations: string[];
  errors: string[];
}

/** Records CSP violations (the DOM event and Chromium's console report) and page errors. */
async function watch(context: BrowserContext): Promise<Watched> {
  const watched: Watched = { violations: [], errors: [] };
  await context.exposeBinding('reportCspViolation', (_source, text: string) => {
    watched.violations.push(text);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const report = (window as unknown as { reportCspViolation: (t: string) => void })
        .reportCspViolation;
      report(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  context.on('page', (page) => watchPage(page, watched));
  return watched;
}

function watchPage(page: Page, watched: Watched): void {
  // Every console error counts, a missing favicon's 404 included: the page names its icon.
  page.on('console', (message) => {
    if (message.type() === 'error') watched.errors.push(message.text());
  });
  page.on('pageerror', (error) => watched.errors.push(error.message));
}

let watched: Watched;

test.beforeEach(async ({ context, page }) => {
  watched = await watch(context);
  watchPage(page, watched);
  await serveBase(context);
});

test.afterEach(() => {
  expect(watched.violations, 'Content-Security-Policy violations').toEqual([]);
  expect(watched.errors, 'console errors').toEqual([]);
});

/** Clicks the platform's download button and returns the saved file's path. */
async function downloadLinux(page: Page, name = 'download.tgz'): Promise<string> {
  const button = page.getByRole('button', { name: 'Download seattle_linux.tgz' });
  await expect(button).toBeEnabled();
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  expect(download.suggestedFilename()).toBe('seattle_linux.tgz');
  const path = test.info().outputPath(name);
  await download.saveAs(path);
  return path;
}

function vesselinfoByTar(path: string): string {
  return execFileSync('tar', ['-xzOf', path, VESSELINFO], { encoding: 'utf8' });
}

function vesselinfoByPython(path: string): string {
  return execFileSync(
    'python3',
    [
      '-c',
      'import sys, tarfile; sys.stdout.write(tarfile.open(sys.argv[1]).extractfile(sys.argv[2]).read().decode())',
      path,
      VESSELINFO,
    ],
    { encoding: 'utf8' },
  );
}

test('a clearinghouse link gives an installer with exactly the owner, user and reserved vessel', async ({
  page,
}) => {
  await page.goto(`./${clearinghouseHash({ owner: ownerKey, users: [userKey] })}`);
  const path = await downloadLinux(page);
  const expected = `Percent 80\nOwner ${ownerKey}\nUser ${userKey}\nPercent 20\nOwner ${reservedKey}`;
  expect(vesselinfoByTar(path)).toBe(expected);
  expect(vesselinfoByPython(path)).toBe(expected);
  // Everything else in the base is unchanged.
  const listing = execFileSync('tar', ['-tzf', path], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((entry) => entry.replace(/\/$/, ''));
  expect(listing.sort()).toEqual([...baseListing, VESSELINFO].sort());
});

test('a share link opens the installers for its configuration in a fresh browser context', async ({
  page,
  browser,
}) => {
  const resolved: ResolvedConfig = {
    vessels: [
      { percentage: 50, owner: 'alice', users: ['bob', 'carol'] },
      { percentage: 30, owner: 'carol', users: [] },
    ],
    publicKeys: { alice: ownerKey, bob: userKey, carol: otherKey },
    reservedShare: 20,
    reservedKey,
  };
  const hash = shareHash(resolved);

  // The page shows the same link, copyable and as a QR code, for the configuration it shows.
  await page.goto(`./${hash}`);
  await expect(page.getByLabel('Share link')).toHaveValue(new RegExp(`${escape(hash)}$`));
  // The QR code is drawn when asked for (not while the page may be fetching a base).
  await page.getByRole('button', { name: 'Show QR code' }).click();
  await expect(page.getByRole('img', { name: 'QR code of the share link' })).toHaveAttribute(
    'src',
    /^data:image\/svg\+xml;charset=utf-8,%3Csvg/,
  );

  const fresh = await browser.newContext({ acceptDownloads: true });
  const freshWatched = await watch(fresh);
  await serveBase(fresh);
  const other = await fresh.newPage();
  watchPage(other, freshWatched);
  await other.goto(new URL(`./${hash}`, page.url()).href);
  const path = await downloadLinux(other, 'shared.tgz');
  expect(vesselinfoByPython(path)).toBe(
    [
      'Percent 50',
      `Owner ${ownerKey}`,
      `User ${userKey}`,
      `User ${otherKey}`,
      'Percent 30',
      `Owner ${otherKey}`,
      'Percent 20',
      `Owner ${reservedKey}`,
    ].join('\n'),
  );
  expect(freshWatched.violations).toEqual([]);
  expect(freshWatched.errors).toEqual([]);
  await fresh.close();
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('inspect shows the vessels, ports and key fingerprints of a downloaded installer', async ({
  page,
}) => {
  await page.goto(`./${clearinghouseHash({ owner: ownerKey, users: [userKey] })}`);
  const path = await downloadLinux(page);

  await page.goto('./#/inspect');
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(path);
  await expect(page.getByText('The node will accept this installer.')).toBeVisible();
  const first = page.locator('tr[data-vessel="v1"]');
  await expect(first.locator('[data-field="percent"]')).toHaveText('80%');
  await expect(first.locator('[data-field="ports"]')).toHaveText('63100–63179');
  await expect(first.locator('[data-field="owner"]')).toContainText(fingerprint(ownerKey));
  await expect(first.locator('[data-field="users"]')).toHaveText(fingerprint(userKey));
  const reserved = page.locator('tr[data-vessel="v2"]');
  await expect(reserved.locator('[data-field="percent"]')).toHaveText('20%');
  await expect(reserved.locator('[data-field="ports"]')).toHaveText('63180–63199');
  await expect(reserved.locator('[data-field="owner"]')).toContainText(fingerprint(reservedKey));
  // The page knows its own reserved key, so it says whose vessel that is; the donor's is not.
  await expect(reserved.locator('[data-field="owner"]')).toContainText(
    "reserved (this builder's operator)",
  );
  await expect(first.locator('[data-field="owner"]')).not.toContainText('reserved');
  await expect(page.locator('tr[data-vessel]')).toHaveCount(2);
});

test('inspect shows the software verdict: green for a signed base, red naming a changed file', async ({
  page,
}) => {
  await page.goto('./#/inspect');
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(DEMO_LINUX);
  const verdict = page.locator('[data-software]');
  await expect(verdict).toHaveAttribute('data-software', 'intact');
  await expect(verdict).toContainText('Seattle software signed by the demo update key');
  await expect(verdict).toHaveClass(/ok/);

  const changed = test.info().outputPath('modified.tgz');
  execFileSync('python3', [
    MUTATE_BASE,
    DEMO_LINUX,
    changed,
    'flip-byte',
    'seattle/seattle_repy/nmmain.py',
  ]);
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(changed);
  await expect(verdict).toHaveAttribute('data-software', 'modified');
  await expect(verdict).toHaveClass(/bad/);
  await expect(verdict).toContainText('Modified: 1 file differs from the signed list');
  await expect(page.locator('[data-differs="modified"]')).toHaveText(
    'modified: seattle/seattle_repy/nmmain.py',
  );
});

test('the page refuses to build from a base whose software was changed, even when its SHA-256 matches', async ({
  context,
  page,
}) => {
  const changed = test.info().outputPath('seattle_linux.tgz');
  execFileSync('python3', [
    MUTATE_BASE,
    DEMO_LINUX,
    changed,
    'flip-byte',
    'seattle/seattle_repy/nmmain.py',
  ]);
  const original = base;
  base = readFileSync(changed);
  try {
    await serveBase(context);
    await page.goto(`./${clearinghouseHash({ owner: ownerKey, users: [userKey] })}`);
    await page.getByRole('button', { name: 'Download seattle_linux.tgz' }).click();
    // The worker's CibError crosses to the page with its problems (src/worker/boundary-errors.ts):
    // the page shows the problem's own sentence, not a plain error's "base: …" text.
    await expect(
      page.getByText(/seattle_linux\.tgz was not saved\. The base installer is refused: Modified/),
    ).toBeVisible();
    await expect(page.getByText(/base: The base installer is refused/)).toHaveCount(0);
  } finally {
    base = original;
  }
});

test('inspect says when the node would refuse an installer, and why', async ({ page }) => {
  const path = test.info().outputPath('refused.tgz');
  execFileSync('python3', ['-c', PYTHON_BAD_INSTALLER, path, ownerKey]);
  await page.goto('./#/inspect');
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(path);
  await expect(page.getByText('The node will refuse this installer')).toBeVisible();
  await expect(page.locator('.problems li.error').first()).toContainText('100');
});

test('inspect shows a red verdict naming every entry of an ambiguous installer, and refuses a bomb', async ({
  page,
}) => {
  const dir = test.info().outputPath('hostile');
  execFileSync('python3', ['tests/python/hostile_archives.py', dir]);
  await page.goto('./#/inspect');
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(join(dir, 'dot.tgz'));
  // The vessels' verdict; the software verdict below it has its own.
  const verdict = page.locator('.verdict[data-valid]');
  await expect(verdict).toHaveAttribute('data-ambiguous', 'true');
  await expect(verdict).toHaveClass(/bad/);
  await expect(verdict).toContainText('Do not install this');
  // Its software section lists its own problems (this one is not signed); this is the entries'.
  // The second vesselinfo's "." component is outside the strict profile: refused by name.
  const problems = page.locator('.problems li.error[data-code^="base.profile."]');
  await expect(problems).toHaveCount(1);
  await expect(problems.nth(0)).toContainText('seattle/./seattle_repy/vesselinfo');
  await expect(problems.nth(0)).toContainText('Strict archive profile');
  await expect(page.locator('tr[data-vessel]')).toHaveCount(0);

  // 1 MB that inflates to 1 GiB: the worker streams it and stops at the cap.
  await page.getByLabel('Installer file', { exact: true }).setInputFiles(join(dir, 'bomb.tgz'));
  await expect(page.locator('.problems li.error').first()).toContainText(
    'inflates to more than 128 MiB',
    { timeout: 60_000 },
  );
});

test('malformed links say what is wrong instead of offering installers', async ({ page }) => {
  await page.goto(`./#/get?user=${userKey.replace(' ', '+')}`);
  await expect(page.locator('[data-code="link.owner.missing"]')).toContainText('no owner key');
  await expect(page.getByRole('button', { name: /^Download seattle_/ })).toHaveCount(0);

  await page.goto('./#/s/1.not-a-real-share-code');
  await expect(page.locator('.problems li.error').first()).toBeVisible();
  await expect(page.getByRole('button', { name: /^Download seattle_/ })).toHaveCount(0);

  await page.goto(`./${clearinghouseHash({ owner: ownerKey, share: 70 })}`);
  await expect(page.locator('[data-code="config.vessels.total"][data-path="share"]')).toBeVisible();
});

test('how it works explains the node states with an accessible diagram', async ({ page }) => {
  await page.goto('./#/how');
  const diagram = page.getByRole('img', { name: 'Node states after installation' });
  await expect(diagram).toBeVisible();
  for (const state of [
    'acceptdonation',
    'movingto_canonical',
    'canonical',
    'movingto_twopercent',
    'twopercent',
  ]) {
    await expect(diagram.getByText(state, { exact: true })).toHaveCount(1);
    await expect(page.getByRole('rowheader', { name: state, exact: true })).toBeVisible();
  }
  await expect(page.getByRole('heading', { name: /How a donation is credited/ })).toBeVisible();
});
