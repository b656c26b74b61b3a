/**
 * The server's short route: a build whose share link would make too long a redirect sends the
 * browser to `#/b/<build id>/<platform>`, and the page reads the share code from the server.
 * Runs our own server (src/server/main.ts) on a free loopback port, in front of the built dist/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { listeningOrigin } from '../support/server-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const VESSELINFO = 'seattle/seattle_repy/vesselinfo';
let server: ChildProcess;
let origin = '';
let dataDir = '';

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cib-e2e-server-'));
  server = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      DIST_DIR: join(ROOT, 'dist'),
      LOG_REQUESTS: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  origin = await listeningOrigin(server);
});

test.afterAll(() => {
  server.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
});

/** An odd 4096-bit number with random digits: a modulus the share codec cannot shrink. */
function randomModulus(): bigint {
  return BigInt(`0x${randomBytes(512).toString('hex')}`) | (1n << 4095n) | 1n;
}

test('a build with twenty 4096-bit users redirects to the short route and downloads', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    // No favicon is shipped; any other failed load is an error.
    if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico'))
      errors.push(`${message.text()} ${message.location().url}`);
  });

  const keys = Array.from({ length: 20 }, () => `65537 ${randomModulus()}`);
  const members = keys
    .map(
      (key, i) =>
        `<member><name>user${i}</name><value><struct><member><name>public_key</name><value>${key}</value></member></struct></value></member>`,
    )
    .join('');
  const users = keys.map((_, i) => `<value>user${i}</value>`).join('');
  const body = `<?xml version="1.0"?><methodCall><methodName>build_installers</methodName><params><param><value><array><data><value><struct><member><name>percentage</name><value><int>80</int></value></member><member><name>owner</name><value>user0</value></member><member><name>users</name><value><array><data>${users}</data></array></value></member></struct></value></data></array></value></param><param><value><struct>${members}</struct></value></param></params></methodCall>`;
  const answer = await (
    await fetch(`${origin}/xmlrpc/`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body,
    })
  ).text();
  const id = /<name>build_id<\/name><value><string>([a-z0-9]{40})</.exec(answer)?.[1];
  expect(id, answer.slice(0, 300)).toBeTruthy();

  const redirect = await fetch(`${origin}/${id}/installers/linux/`, {
    headers: { Accept: 'text/html' },
    redirect: 'manual',
  });
  const location = redirect.headers.get('location') ?? '';
  expect(location).toBe(`${origin}/#/b/${id}/linux`);

  await page.goto(location);
  await expect(page).toHaveURL(/#\/s\/[^/]+\/linux$/);
  const button = page.getByRole('button', { name: 'Download seattle_linux.tgz' });
  await expect(button).toBeEnabled();
  const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
  const path = test.info().outputPath('seattle_linux.tgz');
  await download.saveAs(path);
  const vesselinfo = execFileSync('tar', ['-xzOf', path, VESSELINFO], { encoding: 'utf8' });
  expect(vesselinfo.split('\n').slice(0, 2)).toEqual(['Percent 80', `Owner ${keys[0]}`]);
  for (const key of keys.slice(1)) expect(vesselinfo).toContain(`User ${key}`);
  expect(errors).toEqual([]);
});

test('the short route for a build the server does not have says so', async ({ page }) => {
  await page.goto(`${origin}/#/b/${'0'.repeat(40)}/linux`);
  await expect(page.getByText(`The build ${'0'.repeat(40)} could not be read`)).toBeVisible();
});
