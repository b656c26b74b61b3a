import { expect, test } from '@playwright/test';

test('the page shell loads from the static build with its deployment config', async ({ page }) => {
  await page.goto('./');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(
    'Seattle Custom Installer Builder',
  );
  const config = await (await page.request.get('config.json')).json();
  expect(config.reservedShare).toBe(20);
  expect(config.reservedKey).toMatch(/^\d+ \d+$/);
});
