/**
 * Bases for the software check, each made with real tools: the demo bases as committed, and
 * copies changed by tests/python/mutate_base.py (tarfile/zipfile repack) or built by `cib
 * make-base` with another update key.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASES, ROOT, runCib, tempDir } from './tools.ts';

export const DEMO_UPDATE_KEY_FILE = join(ROOT, 'demo/update-keys/demo.publickey');
export const DEMO_UPDATE_KEY = readFileSync(DEMO_UPDATE_KEY_FILE, 'utf8').trim();
const MUTATE = join(ROOT, 'tests/python/mutate_base.py');
export const VERIFY = join(ROOT, 'tests/python/verify_metainfo.py');

export type SoftwareCase =
  | 'made'
  | 'modified'
  | 'signature'
  | 'not-signed'
  | 'unlisted'
  | 'other-key'
  | 'left-out'
  | 'unsigned-script'
  | 'changed-script';

/** The verdict of each case with the demo key trusted (docs/formats.md, "The software check"). */
export const EXPECTED: Record<SoftwareCase, string> = {
  made: 'intact',
  modified: 'modified',
  signature: 'signature-fails',
  'not-signed': 'not-signed',
  unlisted: 'modified',
  'other-key': 'untrusted-key',
  'left-out': 'intact',
  'unsigned-script': 'intact',
  'changed-script': 'intact',
};

export interface CaseFiles {
  dir: string;
  /** The other update key's public key file. */
  otherKey: string;
  file(name: SoftwareCase, base: string): string;
}

/** Builds every case for the given demo base files (e.g. seattle_linux.tgz, seattle_win.zip). */
export function makeSoftwareCases(baseFiles: readonly string[]): CaseFiles {
  const dir = tempDir('cib-software-');
  const keys = join(dir, 'keys');
  const keygen = runCib(['keygen', '--bits', '1024', '--name', 'other', '--out', keys]);
  if (keygen.status !== 0) throw new Error(keygen.stderr);
  const other = join(dir, 'other-bases');
  const made = runCib([
    'make-base',
    '--src',
    join(ROOT, 'demo/source'),
    '--pubkey',
    join(keys, 'other.publickey'),
    '--privkey',
    join(keys, 'other.privatekey'),
    '--out',
    other,
    '--version',
    'other-1',
    '--timestamp',
    '1735732800',
  ]);
  if (made.status !== 0) throw new Error(made.stderr);
  const path = (name: SoftwareCase, base: string) => join(dir, `${name}-${base}`);
  for (const base of baseFiles) {
    const source = join(BASES, base);
    copyFileSync(source, path('made', base));
    copyFileSync(join(other, base), path('other-key', base));
    const mutate = (name: SoftwareCase, ...args: string[]) =>
      execFileSync('python3', [MUTATE, source, path(name, base), ...args]);
    mutate('modified', 'flip-byte', 'seattle/seattle_repy/nmmain.py');
    mutate('signature', 'signature-digit');
    mutate('not-signed', 'remove', 'seattle/seattle_repy/metainfo');
    mutate('unlisted', 'add', 'seattle/seattle_repy/random.py');
    // Seattle's packaging leaves listed files out, and adds unsigned scripts, after signing.
    mutate('left-out', 'remove', 'seattle/seattle_repy/nmmain.py');
    mutate('unsigned-script', 'add', 'seattle/seattle_repy/start_seattle.sh');
    mutate(
      'changed-script',
      'flip-byte',
      base.endsWith('.tgz') ? 'seattle/install.sh' : 'seattle/install.bat',
    );
  }
  return { dir, otherKey: join(keys, 'other.publickey'), file: path };
}

/** The independent Python verdict for an installer (`--known` the demo update key). */
export function pythonVerdict(
  file: string,
  known: string[] = [DEMO_UPDATE_KEY_FILE],
): {
  verdict: string;
  fingerprint: string | null;
  modified: string[];
  missing: string[];
  unlisted: string[];
  unsigned: string[];
} {
  let out: string;
  try {
    out = execFileSync(
      'python3',
      [VERIFY, '--archive', file, ...known.flatMap((k) => ['--known', k])],
      {
        encoding: 'utf8',
      },
    );
  } catch (error) {
    out = (error as { stdout: string }).stdout;
  }
  return JSON.parse(out) as ReturnType<typeof pythonVerdict>;
}
