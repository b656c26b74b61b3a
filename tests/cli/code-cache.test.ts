/**
 * bin/cib.cjs keeps V8's code cache for the compiled command line in the kept checks' folder
 * (README, "The command line's speed"): one file per command, written only after a successful
 * run that did no first-time work, never used for another build of the file or when V8 refuses
 * it, and never written when CIB_CACHE_DIR is empty.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASES, ROOT, runCib, tempDir } from '../support/tools.ts';

const COMPILED = join(ROOT, 'dist-node/cib.cjs');

/** The first line a cache for the current build starts with: its SHA-256, size and mtime. */
function stamp(): string {
  const bytes = readFileSync(COMPILED);
  const lastLine = `// cib-build ${createHash('sha256').update(bytes.subarray(0, -78)).digest('hex')}\n`;
  expect(bytes.subarray(-78).toString()).toBe(lastLine);
  const stat = statSync(COMPILED, { bigint: true });
  return `cib-code 2 ${lastLine.slice(13, -1)} ${stat.size} ${stat.mtimeNs}\n`;
}

function environment(cache: string): NodeJS.ProcessEnv {
  return { ...process.env, CIB_CACHE_DIR: cache };
}

describe('the code cache of the command line', () => {
  it('is kept per command after a successful run, then used as it is, with the same output', () => {
    const cache = join(tempDir(), 'cache');
    const first = runCib(['--help'], { env: environment(cache) });
    expect(first.status).toBe(0);
    const file = join(cache, 'cib-code-help.bin');
    const kept = readFileSync(file);
    expect(kept.subarray(0, stamp().length).toString()).toBe(stamp());
    expect(kept.length).toBeGreaterThan(stamp().length + 1000);
    const second = runCib(['--help'], { env: environment(cache) });
    expect(second).toEqual(first);
    // Accepted by V8, so not written again.
    expect(readFileSync(file).equals(kept)).toBe(true);
    expect(readdirSync(cache)).toEqual(['cib-code-help.bin']);
  });

  it('replaces a cache V8 refuses, and one for another build of the file', () => {
    const cache = join(tempDir(), 'cache');
    mkdirSync(cache);
    const file = join(cache, 'cib-code-help.bin');
    const expected = runCib(['--help'], { env: { ...process.env, CIB_CACHE_DIR: '' } });
    for (const bogus of [
      Buffer.concat([Buffer.from(stamp()), Buffer.alloc(4096, 0x5a)]),
      Buffer.from('cib-code 1 1 1\nnot a cache'),
    ]) {
      writeFileSync(file, bogus);
      expect(runCib(['--help'], { env: environment(cache) })).toEqual(expected);
      const kept = readFileSync(file);
      expect(kept.equals(bogus)).toBe(false);
      expect(kept.subarray(0, stamp().length).toString()).toBe(stamp());
    }
  });

  it('is written only after a successful run', () => {
    const cache = join(tempDir(), 'cache');
    expect(runCib(['customize'], { env: environment(cache) }).status).toBe(2);
    expect(runCib(['no-such-command'], { env: environment(cache) }).status).toBe(2);
    expect(existsSync(cache)).toBe(false);
  });

  it('lies beside the kept checks, and nowhere when CIB_CACHE_DIR is empty', () => {
    const dir = tempDir();
    const xdg = join(dir, 'xdg');
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex' }],
        user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
      }),
    );
    const args = ['customize', '--base', join(BASES, 'seattle_linux.tgz'), '--config', config];
    const { CIB_CACHE_DIR: _, ...inherited } = process.env;
    const none = runCib([...args, '--out', join(dir, 'a.tgz')], {
      env: { ...inherited, XDG_CACHE_HOME: xdg, CIB_CACHE_DIR: '' },
    });
    expect(none.status).toBe(0);
    expect(existsSync(xdg)).toBe(false);
    const keep = (out: string) =>
      runCib([...args, '--out', join(dir, out)], { env: { ...inherited, XDG_CACHE_HOME: xdg } });
    const walked = keep('b.tgz');
    expect(walked.status).toBe(0);
    expect(walked.stderr).toContain('walked the base');
    const folder = join(xdg, 'seattle-cib/base-checks');
    // A run that walked the base leaves the code cache to the next run, a usual one.
    expect(readdirSync(folder)).not.toContain('cib-code-customize.bin');
    expect(keep('c.tgz').status).toBe(0);
    const names = readdirSync(folder);
    expect(names).toContain('cib-code-customize.bin');
    // The checks of the demo deployment's bases (the demo-key rule reads each of them).
    expect(names.filter((n) => /^[0-9a-f]{64}-[0-9a-f]{16}\.json$/.test(n)).length).toBeGreaterThan(
      0,
    );
  });
});
