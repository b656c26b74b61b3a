/**
 * `npm run bench:browser`: the page's speed in headless Chromium (README, "Benchmarks"), written to
 * bench/browser.json. The built dist/ is copied to a temporary folder whose only base installer
 * is the 32 MiB synthetic tree of the engine benchmark as an append-ready linux tgz, and served
 * from this process. Medians of RUNS runs after one warm-up run.
 *
 *   build_linux_ms      click on "Download seattle_linux.tgz" to the browser's download event,
 *                       base already fetched and cached
 *   keygen_2048_ms      click on "Add user" with a generated 2048-bit key to "Added …"
 *   longest_task_ms     longest main-thread task during a build (Long Tasks API; it reports only
 *                       tasks of 50 ms or more, so 0 means none reached 50 ms)
 *   longest_gap_ms      longest gap between main-thread timer ticks during a build, a finer view
 *                       of the same thing that also sees tasks under 50 ms
 *   initial_js_gzip_kb  gzip (level 6) sizes of the JavaScript the page loads before the first
 *                       interaction, from the network log
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from '@playwright/test';
import sirv from 'sirv';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { clearinghouseHash } from '../src/app/links.ts';
import { writeAppendReadyTgz, type TgzEntryInput } from '../src/core/archive/tgz.ts';
import { generateKeyPair } from '../src/core/keygen.ts';
import { PROJECT_ROOT } from '../src/node/deployment.ts';
import { median } from './stats.ts';
import { syntheticTree } from './synthetic.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DIST = resolve(PROJECT_ROOT, 'dist');
const OUT = resolve(PROJECT_ROOT, 'bench/browser.json');
/** A fixed time stamp, so the synthetic base is the same bytes on every run. */
const MTIME = 1_700_000_000;
const LINUX_BUTTON = 'Download seattle_linux.tgz';

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The synthetic tree (bench/synthetic.ts) as an append-ready base with its directories. */
function syntheticBase(): Uint8Array {
  const files = syntheticTree();
  const dirs = new Set<string>();
  for (const file of files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const entries: TgzEntryInput[] = [
    ...[...dirs]
      .sort()
      .map((path) => ({ path, mode: 0o755, mtime: MTIME, type: 'directory' as const })),
    ...files.map((file) => ({ path: file.path, data: file.data, mode: file.mode, mtime: MTIME })),
  ];
  return writeAppendReadyTgz(entries);
}

/** dist/ in a temporary folder with the synthetic base as the only (linux) base installer. */
function stageSite(): string {
  if (!existsSync(join(DIST, 'index.html'))) {
    console.error('bench:browser: dist/ is missing, building it…');
    execFileSync('npx', ['vite', 'build'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
  }
  const site = mkdtempSync(join(tmpdir(), 'cib-bench-browser-'));
  cpSync(DIST, site, { recursive: true });
  const bases = join(site, 'base-installers');
  rmSync(bases, { recursive: true, force: true });
  mkdirSync(bases, { recursive: true });
  const base = syntheticBase();
  writeFileSync(join(bases, 'seattle_linux.tgz'), base);
  const manifest = {
    version: 'bench',
    bases: [
      {
        platform: 'linux',
        file: 'seattle_linux.tgz',
        size: base.length,
        sha256: createHash('sha256').update(base).digest('hex'),
        layout: 'append-ready',
        version: 'bench',
      },
    ],
  };
  writeFileSync(join(bases, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.error(`bench:browser: synthetic linux base ${(base.length / 1_048_576).toFixed(1)} MiB`);
  return site;
}

async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const handler = sirv(dir, { dev: true });
  const server = createServer((req, res) =>
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    }),
  );
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

/**
 * Records long tasks and the longest gap between timer ticks, from page start. A string, not a
 * function: tsx's name helpers would not exist inside the page.
 */
const TASK_PROBE = `(() => {
  const probe = { longTasks: [], gap: 0, last: performance.now() };
  globalThis.__benchProbe = probe;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: true });
  const tick = () => {
    const now = performance.now();
    probe.gap = Math.max(probe.gap, now - probe.last);
    probe.last = now;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
})();`;

async function resetProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    const probe = (
      globalThis as unknown as { __benchProbe: { longTasks: number[]; gap: number; last: number } }
    ).__benchProbe;
    probe.longTasks = [];
    probe.gap = 0;
    probe.last = performance.now();
  });
}

async function readProbe(page: Page): Promise<{ longest: number; gap: number }> {
  return page.evaluate(() => {
    const probe = (globalThis as unknown as { __benchProbe: { longTasks: number[]; gap: number } })
      .__benchProbe;
    return { longest: Math.max(0, ...probe.longTasks), gap: probe.gap };
  });
}

/** gzip size of every script the page loads before anyone touches it. */
async function initialJsGzipKb(
  browser: Browser,
  url: string,
): Promise<{ kb: number; files: Record<string, number> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const scripts: Promise<[string, number]>[] = [];
  page.on('response', (response) => {
    const type = response.request().resourceType();
    const contentType = response.headers()['content-type'] ?? '';
    if (type === 'script' || contentType.includes('javascript')) {
      scripts.push(
        response
          .body()
          .then((body) => [new URL(response.url()).pathname, gzipSync(body, { level: 6 }).length]),
      );
    }
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  const files = Object.fromEntries(await Promise.all(scripts));
  await context.close();
  const bytes = Object.values(files).reduce((sum, size) => sum + size, 0);
  return { kb: round(bytes / 1024), files };
}

async function buildLinux(
  browser: Browser,
  url: string,
): Promise<{ buildMs: number[]; longestTaskMs: number[]; longestGapMs: number[] }> {
  const [owner, user] = await Promise.all([generateKeyPair(2048), generateKeyPair(2048)]);
  const context = await browser.newContext({ acceptDownloads: true });
  await context.addInitScript({ content: TASK_PROBE });
  const page = await context.newPage();
  await page.goto(url + clearinghouseHash({ owner: owner.publicKey, users: [user.publicKey] }));
  const button = page.getByRole('button', { name: LINUX_BUTTON });
  const buildMs: number[] = [];
  const longestTaskMs: number[] = [];
  const longestGapMs: number[] = [];
  // Run 0 fetches and caches the base; it is not counted.
  for (let run = 0; run <= RUNS; run++) {
    await button.waitFor({ state: 'visible' });
    await page.waitForFunction((name) => {
      const b = [...document.querySelectorAll('button')].find(
        (x) => x.textContent?.trim() === name,
      );
      return b !== undefined && !b.disabled;
    }, LINUX_BUTTON);
    await resetProbe(page);
    const downloaded = page.waitForEvent('download', { timeout: 120_000 });
    const start = performance.now();
    await button.click();
    const download = await downloaded;
    const elapsed = performance.now() - start;
    await download.path(); // the whole file is written
    const probe = await readProbe(page);
    if (run > 0) {
      buildMs.push(elapsed);
      longestTaskMs.push(probe.longest);
      longestGapMs.push(probe.gap);
    }
    console.error(
      `bench:browser: build ${run === 0 ? 'warm-up' : run} ${elapsed.toFixed(0)} ms, longest task ${probe.longest.toFixed(0)} ms, gap ${probe.gap.toFixed(0)} ms`,
    );
  }
  await context.close();
  return { buildMs, longestTaskMs, longestGapMs };
}

async function keygen(browser: Browser, url: string): Promise<number[]> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel('Generate a new key pair here').check();
  const samples: number[] = [];
  for (let run = 0; run <= RUNS; run++) {
    const name = `bench_user_${run}`;
    await page.getByLabel('User name').fill(name);
    const start = performance.now();
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByText(`Added ${name}.`).waitFor({ timeout: 120_000 });
    const elapsed = performance.now() - start;
    if (run > 0) samples.push(elapsed); // run 0 also starts the worker
    console.error(`bench:browser: keygen ${run === 0 ? 'warm-up' : run} ${elapsed.toFixed(0)} ms`);
    if (!(await page.getByLabel('Generate a new key pair here').isChecked())) {
      await page.getByLabel('Generate a new key pair here').check();
    }
  }
  await context.close();
  return samples;
}

const site = stageSite();
const { server, url } = await serve(site);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
try {
  const initial = await initialJsGzipKb(browser, url);
  const build = await buildLinux(browser, url);
  const keys = await keygen(browser, url);
  const results = {
    date: new Date().toISOString(),
    chromium: browser.version(),
    runs: RUNS,
    build_linux_ms: round(median(build.buildMs)),
    keygen_2048_ms: round(median(keys)),
    longest_task_ms: round(median(build.longestTaskMs)),
    longest_gap_ms: round(median(build.longestGapMs)),
    initial_js_gzip_kb: initial.kb,
    goals: { build_linux_ms: 300, longest_task_ms: 50, initial_js_gzip_kb: 100 },
    samples: {
      build_linux_ms: build.buildMs.map(round),
      keygen_2048_ms: keys.map(round),
      longest_task_ms: build.longestTaskMs.map(round),
      longest_gap_ms: build.longestGapMs.map(round),
    },
    initial_js_gzip_bytes: initial.files,
  };
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  console.log(JSON.stringify(results, null, 2));
} finally {
  await browser.close();
  server.close();
  rmSync(site, { recursive: true, force: true });
}
