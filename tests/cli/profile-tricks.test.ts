// The archive tricks the strict profile exists for (docs/formats.md, "Strict archive profile"),
// each on top of a real demo base: first shown to work against the extractor named beside it
// (it writes a changed seattle/seattle_repy/nmmain.py), then refused by `cib inspect` (red,
// exit 1, naming the entry and the rule) and by `cib customize` (exit 1, nothing written).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { customizeInstaller } from '../../src/core/archive/installer.ts';
import { CibError } from '../../src/core/problems.ts';
import { BASES, ROOT, runCib, tempDir } from '../support/tools.ts';

interface Trick {
  file: string;
  trick: string;
  fools: string[];
  entry: string;
  rule: string;
}

const TARGET = 'seattle/seattle_repy/nmmain.py';
let dir: string;
let tricks: Trick[] = [];

beforeAll(() => {
  dir = tempDir('cib-tricks-');
  execFileSync('python3', [
    join(ROOT, 'tests/python/profile_tricks.py'),
    join(BASES, 'seattle_linux.tgz'),
    join(BASES, 'seattle_win.zip'),
    dir,
  ]);
  tricks = JSON.parse(readFileSync(join(dir, 'tricks.json'), 'utf8')) as Trick[];
});

/** What `extractor` leaves at the target after extracting `file` into a fresh folder. */
function extractedTarget(extractor: string, file: string): string | undefined {
  const out = tempDir('cib-trick-x-');
  const python = (script: string) =>
    spawnSync('python3', ['-c', script, file, out], { stdio: 'ignore' });
  switch (extractor) {
    case 'gnutar':
      spawnSync('tar', ['--no-same-owner', '-xzf', file, '-C', out], { stdio: 'ignore' });
      break;
    case 'bsdtar':
      spawnSync('bsdtar', ['-xf', file, '-C', out], { stdio: 'ignore' });
      break;
    case 'python':
      python(
        'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="fully_trusted")',
      );
      break;
    case 'unzip':
      spawnSync('unzip', ['-qo', file, '-d', out], { stdio: 'ignore' });
      break;
    case 'pyzipfile':
      python('import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])');
      break;
    case 'bsdtar-pipe':
      // A pipe, not a file: bsdtar then walks local headers as Java's ZipInputStream does.
      spawnSync('bsdtar', ['-xf', '-', '-C', out], { input: readFileSync(file), stdio: 'pipe' });
      break;
    default:
      return 'not run here';
  }
  const target = join(out, TARGET);
  return existsSync(target) ? readFileSync(target, 'utf8') : undefined;
}

function config(): string {
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      vessels: [{ percentage: 80, owner: 'alex' }],
      user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
    }),
  );
  return file;
}

describe('the archive tricks', () => {
  it('are all there: the table of docs/formats.md and a PE variant of the exe trick', () => {
    expect(tricks.map((t) => t.file)).toEqual([
      'pax-sparse-rename.tgz',
      'pax-path-nul.tgz',
      'pax-then-longname.tgz',
      'longname-then-pax.tgz',
      'pax-global-path.tgz',
      'pax-char-lengths.tgz',
      'symlinked-folder.tgz',
      'case-variant.tgz',
      'case-variant.zip',
      'nul-name.zip',
      'unicode-path.zip',
      'unlisted-local.zip',
      'zip-behind-stub.exe',
      'zip-behind-pe.exe',
    ]);
  });

  it('each make the extractor named beside it write a changed nmmain.py', () => {
    for (const trick of tricks) {
      for (const extractor of trick.fools.filter((e) => e !== 'java')) {
        expect(
          extractedTarget(extractor, join(dir, trick.file)),
          `${trick.file} ${extractor}`,
        ).toBe("print('CHANGED')\n");
      }
    }
  });

  it('are refused by cib inspect: red, exit 1, naming the entry and the rule', () => {
    for (const trick of tricks) {
      const file = join(dir, trick.file);
      const text = runCib(['inspect', file]);
      expect(text.status, trick.file).toBe(1);
      expect(text.stdout, trick.file).toContain('AMBIGUOUS installer');
      expect(text.stdout, trick.file).not.toContain('will accept');
      expect(text.stderr, trick.file).toContain(`${file}: ${trick.entry}: `);
      expect(text.stderr, trick.file).toContain('Strict archive profile');
      const json = JSON.parse(runCib(['inspect', '--json', file]).stdout) as {
        valid: boolean;
        ambiguous: boolean;
        vessels: unknown[];
        problems: { code: string; path: string }[];
      };
      expect(json, trick.file).toMatchObject({ valid: false, ambiguous: true, vessels: [] });
      expect(json.problems[0], trick.file).toMatchObject({
        code: `base.profile.${trick.rule}`,
        path: trick.entry,
      });
    }
  });

  it('are refused by cib customize, which writes nothing', () => {
    const settings = config();
    for (const trick of tricks) {
      const out = join(dir, `out-${trick.file}`);
      const run = runCib([
        'customize',
        '--base',
        join(dir, trick.file),
        '--config',
        settings,
        '--out',
        out,
      ]);
      expect(run.status, `${trick.file}: ${run.stderr}`).toBe(1);
      expect(run.stderr, trick.file).toContain(trick.entry);
      expect(existsSync(out), trick.file).toBe(false);
    }
    expect(readdirSync(dir).filter((name) => name.startsWith('out-'))).toEqual([]);
  });

  it('are refused by the core customiser every front end uses', async () => {
    for (const trick of tricks) {
      const attempt = customizeInstaller({
        base: readFileSync(join(dir, trick.file)),
        vesselinfo: 'Percent 80\nOwner 65537 3233\nPercent 20\nOwner 65537 3233',
      });
      await expect(attempt, trick.file).rejects.toBeInstanceOf(CibError);
      await expect(attempt, trick.file).rejects.toMatchObject({
        code: `base.profile.${trick.rule}`,
      });
    }
  });
});
