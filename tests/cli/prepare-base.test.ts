import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isAppendReady, readTgzEntries } from '../../src/core/archive/tgz.ts';
import { prepareBaseCommand } from '../../src/cli/commands/prepare-base.ts';
import { CibError } from '../../src/core/problems.ts';

const work = mkdtempSync(join(tmpdir(), 'prepare-base-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A base the way the old packaging scripts wrote them: Python's tarfile `w:gz`. */
function pythonBase(dir: string): string {
  mkdirSync(join(dir, 'src/seattle/seattle_repy'), { recursive: true });
  writeFileSync(join(dir, 'src/seattle/install.sh'), '#!/bin/sh\necho install\n', { mode: 0o755 });
  writeFileSync(join(dir, 'src/seattle/seattle_repy/nmmain.py'), 'print("nm")\n'.repeat(300));
  const out = join(dir, 'seattle_linux.tgz');
  execFileSync('python3', [
    '-c',
    'import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t: t.add(sys.argv[1], arcname="seattle")',
    join(dir, 'src/seattle'),
    out,
  ]);
  return out;
}

describe('cib prepare-base', () => {
  it('rewrites a Python tarfile base into the append-ready layout with the same entries', async () => {
    const dir = join(work, 'ok');
    mkdirSync(dir);
    const input = pythonBase(dir);
    const output = join(dir, 'ready.tgz');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await prepareBaseCommand.run([input, '--out', output])).toBe(0);
      expect(log.mock.calls[0]?.[0]).toMatch(/append-ready; 4 entries verified identical/);
    } finally {
      log.mockRestore();
    }
    const before = readFileSync(input);
    const after = readFileSync(output);
    expect(isAppendReady(before)).toBe(false);
    expect(isAppendReady(after)).toBe(true);
    expect(await readTgzEntries(after)).toEqual(await readTgzEntries(before));
    const list = (file: string) => execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' });
    expect(list(output)).toBe(list(input));
    execFileSync('gzip', ['-t', output]);
  });

  it('writes nothing, not even a temporary file, when the base is damaged', async () => {
    const dir = join(work, 'bad');
    mkdirSync(dir);
    const input = pythonBase(dir);
    const bytes = readFileSync(input);
    writeFileSync(input, bytes.subarray(0, bytes.length - 12));
    const output = join(dir, 'ready.tgz');
    const before = readdirSync(dir).sort();
    await expect(prepareBaseCommand.run([input, '--out', output])).rejects.toBeInstanceOf(CibError);
    expect(existsSync(output)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
