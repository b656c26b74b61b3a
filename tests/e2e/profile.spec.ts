// The page's inspect view refuses archives outside the strict profile (docs/formats.md, "Strict
// archive profile"), as `cib inspect` does: a red verdict naming the entry and the rule, no vessels.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';

let dir: string;

test.beforeAll(() => {
  dir = test.info().outputPath('tricks');
  execFileSync('python3', [
    'tests/python/profile_tricks.py',
    'base-installers/seattle_linux.tgz',
    'base-installers/seattle_win.zip',
    dir,
  ]);
});

/** Drops the file on the inspect view's drop zone, as a person dragging it from a folder would. */
async function drop(page: Page, file: string): Promise<void> {
  const bytes = readFileSync(join(dir, file)).toString('base64');
  const transfer = await page.evaluateHandle(
    ([name, data]) => {
      const transfer = new DataTransfer();
      const raw = Uint8Array.from(atob(data!), (c) => c.charCodeAt(0));
      transfer.items.add(new File([raw], name!));
      return transfer;
    },
    [file, bytes],
  );
  await page.getByRole('region', { name: 'Drop an installer file here' }).dispatchEvent('drop', {
    dataTransfer: transfer,
  });
}

async function expectRefused(page: Page, entry: string, words: string): Promise<void> {
  const verdict = page.locator('.verdict[data-valid]');
  await expect(verdict).toHaveAttribute('data-ambiguous', 'true');
  await expect(verdict).toHaveClass(/bad/);
  await expect(verdict).toContainText('Do not install this');
  const problem = page.locator('.problems li.error').first();
  await expect(problem).toContainText(entry);
  await expect(problem).toContainText(words);
  await expect(page.locator('tr[data-vessel]')).toHaveCount(0);
  await expect(page.getByText('The node will accept this installer')).toHaveCount(0);
}

test('inspect refuses tar tricks by name: a symlinked folder, a pax global header', async ({
  page,
}) => {
  await page.goto('./#/inspect');
  await drop(page, 'symlinked-folder.tgz');
  await expectRefused(page, '"seattle/lib"', 'is a symbolic link');
  await drop(page, 'pax-global-path.tgz');
  await expectRefused(page, 'pax global header', 'Strict archive profile');
});

test('inspect refuses zip tricks by name: a Unicode Path field, an unlisted local entry, a zip behind an MZ stub', async ({
  page,
}) => {
  await page.goto('./#/inspect');
  const input = page.getByLabel('Installer file', { exact: true });
  await input.setInputFiles(join(dir, 'unicode-path.zip'));
  await expectRefused(page, '"seattle/harmless.txt"', 'Unicode Path');
  await input.setInputFiles(join(dir, 'unlisted-local.zip'));
  await expectRefused(page, '"seattle/seattle_repy/nmmain.py"', 'not in the central directory');
  // Before the profile, this showed vessels read from the zip comment: "the node will accept it".
  await input.setInputFiles(join(dir, 'zip-behind-stub.exe'));
  await expectRefused(page, 'no PE header', 'Strict archive profile');
});
