/**
 * Damaged bases never turn into damaged installers: each demo base is mutated many times
 * (truncations, byte flips, zeroed runs; seeded, bounded), and every mutation must either be
 * refused with a CibError or give an installer that the real tools accept whole.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { customizeInstaller } from '../../src/core/archive/installer.ts';
import { CibError } from '../../src/core/problems.ts';
import { random } from '../support/random.ts';
import { BASES, demoManifest, tempDir } from '../support/tools.ts';

const MUTATIONS_PER_BASE = 300;
const VESSELINFO = 'Percent 80\nOwner 3 55\nPercent 20\nOwner 5 91';

/** A seeded generator of [0, 1), so a failure names a mutation that can be replayed. */
function seeded(seed: number): () => number {
  const next = random(seed);
  return () => next() / 2 ** 32;
}

function mutate(base: Uint8Array, next: () => number): { bytes: Uint8Array; how: string } {
  const at = Math.floor(next() * base.length);
  switch (Math.floor(next() * 4)) {
    case 0:
      return { bytes: base.slice(0, at), how: `truncated to ${at} bytes` };
    case 1: {
      const bytes = base.slice();
      const bit = 1 << Math.floor(next() * 8);
      bytes[at] = bytes[at]! ^ bit;
      return { bytes, how: `bit ${bit} flipped at ${at}` };
    }
    case 2: {
      const bytes = base.slice();
      const length = 1 + Math.floor(next() * 64);
      bytes.fill(0, at, at + length);
      return { bytes, how: `${length} bytes zeroed at ${at}` };
    }
    default: {
      const bytes = base.slice();
      for (let i = 0; i < 4; i++)
        bytes[Math.floor(next() * base.length)] = Math.floor(next() * 256);
      return { bytes, how: `4 random bytes from seed position ${at}` };
    }
  }
}

// Python reads every member whole (CRC and length checked) and lists exactly one vesselinfo.
const CHECK_ALL = `
import sys, tarfile, zipfile, os
bad = []
for path in sys.argv[1:]:
    try:
        if path.endswith('.tgz'):
            with tarfile.open(path, 'r:gz') as t:
                names = []
                for m in t:
                    names.append(m.name)
                    if m.isfile(): t.extractfile(m).read()
        else:
            with zipfile.ZipFile(path) as z:
                assert z.testzip() is None
                names = z.namelist()
        assert names.count('seattle/seattle_repy/vesselinfo') == 1, 'vesselinfo count'
    except Exception as e:
        bad.append(f'{os.path.basename(path)}: {e!r}')
print('\\n'.join(bad))
`;

describe.each(demoManifest().map((b) => [b.platform, b.file] as const))(
  'mutated %s base',
  (platform, file) => {
    it('is refused with a clear error or customised into an archive tar/unzip/Python accept', async () => {
      const base = new Uint8Array(readFileSync(join(BASES, file)));
      const next = seeded(0x5eed + platform.length);
      const dir = tempDir('cib-mutants-');
      const accepted: string[] = [];
      let refused = 0;
      for (let i = 0; i < MUTATIONS_PER_BASE; i++) {
        const { bytes, how } = mutate(base, next);
        try {
          const out = await customizeInstaller({ base: bytes, vesselinfo: VESSELINFO });
          const name = `${i}${file.endsWith('.tgz') ? '.tgz' : '.zip'}`;
          writeFileSync(join(dir, name), out);
          accepted.push(name);
        } catch (error) {
          if (!(error instanceof CibError))
            throw new Error(`mutation ${i} (${how}) threw ${String(error)}`);
          expect(error.problems[0]!.message.length).toBeGreaterThan(10);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(MUTATIONS_PER_BASE / 3);
      if (accepted.length === 0) return;
      const paths = accepted.map((n) => join(dir, n));
      expect(
        execFileSync('python3', ['-c', CHECK_ALL, ...paths], { encoding: 'utf8' }).trim(),
      ).toBe('');
      for (const path of paths) {
        // The tools a donor uses must accept every installer that was written.
        if (path.endsWith('.tgz')) execFileSync('tar', ['-tzf', path], { stdio: 'pipe' });
        else execFileSync('unzip', ['-tq', path], { stdio: 'pipe' });
      }
    });
  },
);
