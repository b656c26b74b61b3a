// Installers built with Python's tarfile/zipfile to make inspect lie or cost: checked first against
// what GNU tar and unzip really extract, then against inspect and customize.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { customizeInstaller, inspectInstaller } from '../../src/core/archive/installer.ts';
import type { ArchiveEntry } from '../../src/core/archive/entries.ts';
import { isAppendReady } from '../../src/core/archive/tgz.ts';
import { bytesSource, walkEntries } from '../../src/core/archive/walk.ts';
import { CibError } from '../../src/core/problems.ts';
import { ROOT, tempDir } from '../support/tools.ts';

const VESSELINFO = 'seattle/seattle_repy/vesselinfo';
let dir: string;

beforeAll(() => {
  dir = tempDir('cib-hostile-');
  execFileSync('python3', [join(ROOT, 'tests/python/hostile_archives.py'), dir]);
});

function extract(file: string): string {
  const out = tempDir('cib-hostile-x-');
  if (file.endsWith('.tgz')) execFileSync('tar', ['-xzf', join(dir, file), '-C', out]);
  else {
    // Exit 1 is unzip's "warning" (e.g. backslashes as separators): it still extracted.
    const run = spawnSync('unzip', ['-qo', join(dir, file), '-d', out], { stdio: 'ignore' });
    expect(run.status).toBeLessThanOrEqual(1);
  }
  return out;
}

/** What the node would find at the vesselinfo path after extraction. */
function extracted(file: string): { kind: 'file' | 'symlink'; text?: string } {
  const path = join(extract(file), VESSELINFO);
  if (lstatSync(path).isSymbolicLink()) return { kind: 'symlink' };
  return { kind: 'file', text: readFileSync(path, 'utf8') };
}

// [file, the second entry's stored name, what the tool leaves at the vesselinfo path, the strict
// profile's rule that refuses it]
const CASES = [
  ['dot.tgz', 'seattle/./seattle_repy/vesselinfo', { kind: 'file', text: 'second\n' }, 'name'],
  [
    'double-slash.tgz',
    'seattle//seattle_repy/vesselinfo',
    { kind: 'file', text: 'second\n' },
    'name',
  ],
  [
    'leading-dot.tgz',
    './seattle/seattle_repy/vesselinfo',
    { kind: 'file', text: 'second\n' },
    'duplicate',
  ],
  ['symlink.tgz', VESSELINFO, { kind: 'symlink' }, 'type'],
  ['hardlink.tgz', VESSELINFO, { kind: 'file', text: 'second\n' }, 'type'],
  ['pax-size.tgz', 'seattle/blob', { kind: 'file', text: 'second\n' }, 'size'],
  [
    'backslash.zip',
    'seattle\\seattle_repy\\vesselinfo',
    { kind: 'file', text: 'second\n' },
    'name',
  ],
  ['symlink.zip', VESSELINFO, { kind: 'symlink' }, 'type'],
] as const;

describe('a second entry where tar or unzip leaves the vesselinfo', () => {
  it.each(CASES)(
    '%s: the tool leaves the second entry, and inspect refuses it by name',
    async (file, second, leaves, rule) => {
      // The hole: the real extractor writes the later entry, not the first one inspect used to show.
      expect(extracted(file)).toEqual(leaves);

      const bytes = readFileSync(join(dir, file));
      const inspection = await inspectInstaller(bytes);
      expect(inspection.ambiguous).toBe(true);
      expect(inspection.valid).toBe(false);
      expect(inspection.vessels).toEqual([]);
      expect(inspection.problems.map((p) => [p.code, p.path])).toEqual([
        [`base.profile.${rule}`, second],
      ]);
      expect(inspection.problems[0]!.message).toContain(JSON.stringify(second));
    },
  );

  it.each(['case.tgz', 'case.zip'])(
    '%s: differently cased names are two files on Linux, one on macOS and Windows',
    async (file) => {
      const tree = extract(file);
      expect(readFileSync(join(tree, VESSELINFO), 'utf8')).toBe('first\n');
      expect(readFileSync(join(tree, 'Seattle/Seattle_repy/VesselInfo'), 'utf8')).toBe('second\n');
      const inspection = await inspectInstaller(readFileSync(join(dir, file)));
      expect(inspection.ambiguous).toBe(true);
      expect(inspection.problems.map((p) => [p.code, p.path])).toEqual([
        // The first entry whose spelling differs: the folder Seattle/ it implies.
        ['base.profile.case', 'Seattle/Seattle_repy/VesselInfo'],
      ]);
    },
  );

  it('a vesselinfo that is a folder is ambiguous too, inside the profile', async () => {
    const inspection = await inspectInstaller(readFileSync(join(dir, 'folder-vesselinfo.tgz')));
    expect(inspection.ambiguous).toBe(true);
    expect(inspection.problems.map((p) => [p.code, p.path])).toEqual([
      ['base.vesselinfo.ambiguous', `${VESSELINFO}/`],
    ]);
    await expect(
      customizeInstaller({
        base: readFileSync(join(dir, 'folder-vesselinfo.tgz')),
        vesselinfo: 'Percent 80\n',
      }),
    ).rejects.toMatchObject({ code: 'base.vesselinfo.ambiguous' });
  });

  it('a lone symlink in the vesselinfo place is refused too', async () => {
    expect(extracted('symlink-only.tgz')).toEqual({ kind: 'symlink' });
    const inspection = await inspectInstaller(readFileSync(join(dir, 'symlink-only.tgz')));
    expect(inspection.ambiguous).toBe(true);
    expect(inspection.problems).toHaveLength(1);
    expect(inspection.problems[0]!.message).toContain('is a symbolic link');
  });

  it.each([...CASES.map((c) => c[0]), 'case.tgz', 'case.zip', 'symlink-only.tgz'])(
    'customize refuses %s and returns nothing',
    async (file) => {
      const base = readFileSync(join(dir, file));
      const attempt = customizeInstaller({ base, vesselinfo: 'Percent 80\n' });
      await expect(attempt).rejects.toBeInstanceOf(CibError);
      await expect(attempt).rejects.toMatchObject({
        code: expect.stringMatching(/^base\.profile\./),
      });
    },
  );
});

describe('append-ready bases whose marker hides a vesselinfo', () => {
  it('are refused, whole and streamed, when the hidden name is outside the profile', async () => {
    for (const file of ['forged-ready.tgz', 'forged-ready-two.tgz']) {
      const base = readFileSync(join(dir, file));
      expect(isAppendReady(base)).toBe(true);
      await expect(customizeInstaller({ base, vesselinfo: 'Percent 80\n' })).rejects.toMatchObject({
        code: 'base.profile.name',
      });
    }
  });
});

describe('hostile sizes', () => {
  it('a 1 MB tgz holding 1 GiB of zeros is a real archive, refused at the inflation cap', async () => {
    const file = join(dir, 'bomb.tgz');
    expect(readFileSync(file).length).toBeLessThan(2 << 20);
    // GNU tar lists the 1 GiB entry, so the bomb is what it claims.
    expect(execFileSync('tar', ['-tvzf', file], { encoding: 'utf8' })).toMatch(
      /1073741824 .* seattle\/zeros/,
    );
    const inspection = await inspectInstaller(bytesSource(readFileSync(file)));
    expect(inspection.valid).toBe(false);
    expect(inspection.problems).toMatchObject([
      { code: 'base.limit.total', message: expect.stringContaining('128 MiB') },
    ]);
  });

  it('a zip entry declaring gigabytes is refused by name before anything is allocated', async () => {
    const inspection = await inspectInstaller(readFileSync(join(dir, 'huge-declared.zip')));
    expect(inspection.problems).toMatchObject([{ code: 'base.limit.entry', path: VESSELINFO }]);
  });

  it('a zip entry that inflates past its declared size is refused while inflating', async () => {
    const inspection = await inspectInstaller(readFileSync(join(dir, 'lying-size.zip')));
    expect(inspection.problems).toMatchObject([
      { code: 'base.zip.entry-corrupt', path: VESSELINFO },
    ]);
  });
});

describe('walkEntries', () => {
  it('hands every entry to the visitor, with its exact path, and the data only of those it wants', async () => {
    const seen: [ArchiveEntry, string | undefined][] = [];
    await walkEntries(readFileSync(join(ROOT, 'base-installers/seattle_linux.tgz')), {
      wantsData: (e) => e.path.endsWith('install.sh'),
      onEntry: (e, data) => seen.push([e, data && new TextDecoder().decode(data).slice(0, 9)]),
    });
    expect(seen.map(([e, data]) => [e.name, e.exactPath, e.type, data])).toEqual([
      ['seattle/', 'seattle', 'directory', undefined],
      ['seattle/install.sh', 'seattle/install.sh', 'file', '#!/bin/sh'],
      ['seattle/seattle_repy/', 'seattle/seattle_repy', 'directory', undefined],
      ['seattle/seattle_repy/README.txt', 'seattle/seattle_repy/README.txt', 'file', undefined],
      [
        'seattle/seattle_repy/demo_install.py',
        'seattle/seattle_repy/demo_install.py',
        'file',
        undefined,
      ],
      ['seattle/seattle_repy/metainfo', 'seattle/seattle_repy/metainfo', 'file', undefined],
      ['seattle/seattle_repy/nmmain.py', 'seattle/seattle_repy/nmmain.py', 'file', undefined],
      [
        'seattle/seattle_repy/softwareupdater.publickey',
        'seattle/seattle_repy/softwareupdater.publickey',
        'file',
        undefined,
      ],
    ]);
  });

  it('stops once the visitor is done, and refuses a wanted entry over the entry cap', async () => {
    let count = 0;
    const summary = await walkEntries(readFileSync(join(dir, 'dot.tgz')), {
      wantsData: () => false,
      onEntry: () => count++,
      done: () => count === 2,
    });
    expect(summary).toMatchObject({ entries: 2, stopped: true });
    await expect(
      walkEntries(
        readFileSync(join(dir, 'bomb.tgz')),
        { wantsData: () => true, onEntry: () => {} },
        { maxEntryBytes: 1 << 20, maxTotalBytes: 2 ** 31 },
      ),
    ).rejects.toMatchObject({ code: 'base.limit.entry', problems: [{ path: 'seattle/zeros' }] });
  });
});
