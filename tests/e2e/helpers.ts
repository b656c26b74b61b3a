/** Helpers for the browser tests: real downloads opened with tar, unzip, Python and openssl. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Download, Locator, Page } from '@playwright/test';

export const VESSELINFO_ENTRY = 'seattle/seattle_repy/vesselinfo';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'cib-e2e-'));
}

/**
 * Saves a Playwright download under its suggested name in a fresh temp folder; returns the path.
 */
export async function saveDownload(download: Download): Promise<string> {
  const path = join(tempDir(), download.suggestedFilename());
  await download.saveAs(path);
  return path;
}

/** Clicks and waits for the download the click starts, then saves it. */
export async function downloadBy(page: Page, click: () => Promise<void>): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return saveDownload(download);
}

/** One entry of a tgz as text, read by GNU tar. */
export function tarEntry(archive: string, entry: string): string {
  return execFileSync('tar', ['-xzOf', archive, entry], { encoding: 'utf8' });
}

/** One entry of a zip as text, read by Info-ZIP unzip. */
export function unzipEntry(archive: string, entry: string): string {
  return execFileSync('unzip', ['-p', archive, entry], { encoding: 'utf8' });
}

/** Python's zipfile: every file (not folder) and its text, after testzip() found no damage. */
export function pythonZipFiles(archive: string): Record<string, string> {
  const script = [
    'import json, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'bad = z.testzip()',
    'assert bad is None, bad',
    'print(json.dumps({n: z.read(n).decode("ascii") for n in z.namelist() if not n.endswith("/")}))',
  ].join('\n');
  return JSON.parse(
    execFileSync('python3', ['-c', script, archive], { encoding: 'utf8' }),
  ) as Record<string, string>;
}

/** Python's tarfile: the names in a tgz (checks the whole archive reads). */
export function pythonTarNames(archive: string): string[] {
  const script = [
    'import json, sys, tarfile',
    'with tarfile.open(sys.argv[1], "r:gz") as t: print(json.dumps(t.getnames()))',
  ].join('\n');
  return JSON.parse(
    execFileSync('python3', ['-c', script, archive], { encoding: 'utf8' }),
  ) as string[];
}

/** Python checks that a Seattle private key "d p q" belongs to the public key "e n". */
export function privateKeyMatchesInPython(publicKey: string, privateKey: string): boolean {
  const script = [
    'import sys',
    'e, n = map(int, sys.argv[1].split())',
    'd, p, q = map(int, sys.argv[2].split())',
    'm = 1234567',
    'print(n == p * q and pow(pow(m, e, n), d, n) == m)',
  ].join('\n');
  return (
    execFileSync('python3', ['-c', script, publicKey, privateKey], { encoding: 'utf8' }).trim() ===
    'True'
  );
}

export interface OpensslKey {
  /** SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it. */
  pem: string;
  /** The same key as a Seattle string "e n". */
  seattle: string;
}

/** A fresh RSA key from openssl: its public PEM and the Seattle string of the same key. */
export function opensslKey(bits = 1024): OpensslKey {
  const dir = tempDir();
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', keyFile],
    {
      stdio: 'ignore',
    },
  );
  const pem = execFileSync('openssl', ['pkey', '-in', keyFile, '-pubout'], { encoding: 'utf8' });
  const text = execFileSync('openssl', ['rsa', '-in', keyFile, '-noout', '-text'], {
    encoding: 'utf8',
  });
  const modulusHex = /Modulus:\s*([0-9a-f:\s]+?)\s*(?:public)?Exponent/i
    .exec(text)?.[1]
    ?.replace(/[:\s]/g, '');
  const exponent = /publicExponent:\s*(\d+)/.exec(text)?.[1];
  if (!modulusHex || !exponent) throw new Error(`Could not read the key from openssl:\n${text}`);
  return { pem, seattle: `${exponent} ${BigInt(`0x${modulusHex}`).toString()}` };
}

/** Writes a file the page can upload. */
export function writeTempFile(name: string, text: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

/** The reserved key as the built page reads it (dist/config.json), canonical "e n". */
export function reservedSettings(): { reservedShare: number; reservedKey: string } {
  const config = JSON.parse(readFileSync(resolve('dist/config.json'), 'utf8')) as {
    reservedShare: number;
    reservedKey: string;
  };
  const [e = '', n = ''] = config.reservedKey.trim().split(/\s+/);
  return { reservedShare: config.reservedShare, reservedKey: `${BigInt(e)} ${BigInt(n)}` };
}

/** The vesselinfo docs/formats.md#vesselinfo describes, written out independently of the core. */
export function expectedVesselinfo(
  vessels: { percent: number; owner: string; users: string[] }[],
): string {
  return vessels
    .flatMap((v) => [
      `Percent ${v.percent}`,
      `Owner ${v.owner}`,
      ...v.users.map((u) => `User ${u}`),
    ])
    .join('\n');
}

/** Every request the page makes, URL and body, to prove no key material leaves the browser. */
export function recordRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    seen.push(`${request.method()} ${request.url()}\n${request.postData() ?? ''}`);
  });
  return seen;
}

/**
 * The base installers the page fetches, by file name (`seattle_linux.tgz`), in order: for the
 * tests that a base is fetched once, or only the visitor's platform's. Pass `file` to count one.
 */
export function countBaseRequests(page: Page, file?: string): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    const name = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
    if (!url.pathname.includes('/base-installers/seattle_')) return;
    if (file === undefined || name === file) seen.push(name);
  });
  return seen;
}

/**
 * HTML5 drag and drop with real mouse moves: Chromium starts a drag only after the pointer moves
 * with the button held, and fires dragover/drop only while the pointer is over the target.
 */
export async function dragAndDrop(page: Page, source: Locator, target: Locator): Promise<void> {
  await target.scrollIntoViewIfNeeded();
  await source.scrollIntoViewIfNeeded();
  await source.hover();
  await page.mouse.down();
  const box = await target.boundingBox();
  if (!box) throw new Error('The drop target is not visible.');
  const x = box.x + box.width / 2;
  const y = box.y + Math.min(12, box.height / 2);
  await page.mouse.move(x, y, { steps: 10 });
  await page.mouse.move(x + 4, y + 2, { steps: 3 });
  await page.mouse.up();
}
