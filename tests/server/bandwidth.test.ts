/**
 * The download budget (README, "Security and limits"; src/server/bandwidth.ts): its timeline on a
 * clock the test moves, then real downloads from a server whose linux base is larger than the
 * budget's burst, through Python's http.client and tarfile.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BandwidthBudget, BURST_BYTES, MBIT_BYTES_PER_SECOND } from '../../src/server/bandwidth.ts';
import { STREAM_PIECE } from '../../src/server/installers.ts';
import { loadServerSettings } from '../../src/server/server-settings.ts';
import { ROOT, runCib, tempDir } from '../support/tools.ts';
import { runPython, startTestServer, type PythonOutput, type TestServer } from './helpers.ts';

describe('the budget timeline', () => {
  /** 1,000 bytes a second (a byte a millisecond), a burst of 3,000 bytes, on a clock at `at`. */
  function budget() {
    const clock = { at: 0 };
    return { clock, budget: new BandwidthBudget(1000, 3000, () => clock.at) };
  }

  it('sends a burst at once on an idle timeline, then one piece per its time', () => {
    const { budget: b } = budget();
    const delays = Array.from({ length: 6 }, () => b.reserve(1000).delayMs);
    // 3,000 bytes run ahead of the timeline; each next 1,000 waits a second more.
    expect(delays).toEqual([0, 0, 0, 0, 1000, 2000]);
  });

  it('refills the burst while idle, never beyond it', () => {
    const { clock, budget: b } = budget();
    for (let i = 0; i < 4; i++) b.reserve(1000);
    clock.at = 60_000;
    expect(Array.from({ length: 5 }, () => b.reserve(1000).delayMs)).toEqual([0, 0, 0, 0, 1000]);
  });

  it('gives two downloads turns in the order they asked, sharing the rate', () => {
    const { budget: b } = budget();
    b.reserve(3000); // the burst, spent
    const turns = ['a', 'b', 'a', 'b'].map((who) => [who, b.reserve(500).delayMs]);
    expect(turns).toEqual([
      ['a', 0],
      ['b', 500],
      ['a', 1000],
      ['b', 1500],
    ]);
  });

  it('gives back an unsent piece only when nothing was reserved after it', () => {
    const { budget: b } = budget();
    b.reserve(3000);
    const first = b.reserve(1000);
    const last = b.reserve(1000);
    b.release(first); // a later piece keeps its turn: nothing moves
    expect(b.reserve(1000).delayMs).toBe(2000);
    const again = b.reserve(1000);
    expect(again.delayMs).toBe(3000);
    b.release(again); // the last one: its second is free again
    expect(b.reserve(1000).delayMs).toBe(3000);
    expect(last.delayMs).toBe(1000);
  });

  it('clears the timer of a turn given up while it waits', async () => {
    // A byte a second, no burst, on a clock that stands still (the wait itself is a real timer).
    const b = new BandwidthBudget(1, 0, () => 0);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const gone = new AbortController();
    b.reserve(1);
    const waiting = b.turn(1000, gone.signal);
    expect(waiting?.delayMs).toBe(1000); // behind the first byte's second
    expect(timers()).toBe(before + 1);
    gone.abort();
    await expect(waiting?.ready).rejects.toThrow(/abort/i);
    expect(timers()).toBe(before);
    // Its second was given back (it was the last reserved), and a gone client reserves nothing.
    expect(() => b.turn(1000, gone.signal)).toThrow(/abort/i);
    expect(b.reserve(1).delayMs).toBe(1000);
  });

  it('is off at 0, and DOWNLOAD_RATE_MBIT refuses anything but a whole number, naming itself', () => {
    expect(BandwidthBudget.ofMbit(0)).toBeUndefined();
    expect(BandwidthBudget.ofMbit(8)?.bytesPerSecond).toBe(1_000_000);
    expect(loadServerSettings({ DOWNLOAD_RATE_MBIT: '0' }).downloadRateMbit).toBe(0);
    for (const bad of ['-1', '2.5', 'fast', '1e9'])
      expect(() => loadServerSettings({ DOWNLOAD_RATE_MBIT: bad })).toThrow(
        `DOWNLOAD_RATE_MBIT must be a whole number from 0 to 1000000, not "${bad}".`,
      );
  });
});

/**
 * The demo bases (demo update key, so a demo deployment) with 4 MiB of random bytes in the linux
 * base: an installer about twice the burst, which no compression shrinks.
 */
function bigLinuxBases(): string {
  const work = tempDir('cib-bandwidth-');
  const source = join(work, 'source');
  cpSync(join(ROOT, 'demo/source'), source, { recursive: true });
  mkdirSync(join(source, 'linux'), { recursive: true });
  writeFileSync(join(source, 'linux', 'padding.bin'), randomBytes(4 * 1024 * 1024));
  const bases = join(work, 'bases');
  const keys = join(ROOT, 'demo/update-keys');
  const made = runCib([
    'make-base',
    '--src',
    source,
    '--pubkey',
    join(keys, 'demo.publickey'),
    '--privkey',
    join(keys, 'demo.privatekey'),
    '--out',
    bases,
    '--version',
    'bandwidth-test',
    '--timestamp',
    '1735732800',
  ]);
  if (made.status !== 0) throw new Error(made.stderr);
  return bases;
}

/** The least time `bytes` can take at `mbit`: all but the burst and the last piece paced. */
function leastSeconds(bytes: number, mbit: number): number {
  return (bytes - BURST_BYTES - STREAM_PIECE) / (mbit * MBIT_BYTES_PER_SECOND);
}

describe('installer downloads under DOWNLOAD_RATE_MBIT, through Python', () => {
  const RATE = 24;
  let paced: TestServer;
  let free: TestServer;
  let unpaced: PythonOutput;
  beforeAll(async () => {
    const bases = bigLinuxBases();
    paced = await startTestServer({ BASES_DIR: bases, DOWNLOAD_RATE_MBIT: String(RATE) });
    free = await startTestServer({ BASES_DIR: bases, DOWNLOAD_RATE_MBIT: '0' });
    // The reference: the same builds from a server with no budget.
    unpaced = await runPython('bandwidth.py', ['downloads', free.origin, '0', '3']);
  }, 120_000);
  afterAll(async () => {
    await paced?.stop();
    await free?.stop();
  });

  it('serves whole installers with the budget off (0)', () => {
    expect(free.settings.downloadRateMbit).toBe(0);
    for (const got of unpaced.downloads as PythonOutput[]) {
      expect(got.status).toBe(200);
      expect(got.bytes).toBe(Number(got.length));
      expect(got.bytes).toBeGreaterThan(4 * 1024 * 1024);
      expect(got.members).toBeGreaterThan(1);
    }
  });

  it('paces one download at about the set rate', async () => {
    const out = await runPython('bandwidth.py', ['downloads', paced.origin, '0', '1']);
    const [got] = out.downloads as PythonOutput[];
    expect(got!.sha256).toBe(unpaced.downloads[0].sha256);
    expect(got!.seconds).toBeGreaterThanOrEqual(leastSeconds(got!.bytes, RATE));
  });

  it('shares the rate between concurrent downloads, each whole and the same bytes as unpaced', async () => {
    const out = await runPython('bandwidth.py', ['downloads', paced.origin, '1', '2']);
    const both = out.downloads as PythonOutput[];
    for (const [i, got] of both.entries()) {
      expect(got.status).toBe(200);
      expect(got.sha256).toBe(unpaced.downloads[i + 1].sha256);
    }
    const total = both.reduce((sum, got) => sum + (got.bytes as number), 0);
    expect(out.seconds).toBeGreaterThanOrEqual(leastSeconds(total, RATE));
  });

  it('drops the turn of a client that leaves mid-download, leaving no timer behind', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const out = await runPython('bandwidth.py', ['leave', paced.origin]);
    expect(out.status).toBe(200);
    expect(out.read).toBeLessThan(Number(out.length));
    // The server sees the reset a moment later; its waiting turn's timer goes with it.
    for (let i = 0; i < 100 && timers() > before; i++) await sleep(50);
    expect(timers()).toBeLessThanOrEqual(before);
    // And the budget still serves the next download whole.
    const next = await runPython('bandwidth.py', ['downloads', paced.origin, '0', '1']);
    expect(next.downloads[0].sha256).toBe(unpaced.downloads[0].sha256);
  });
});
