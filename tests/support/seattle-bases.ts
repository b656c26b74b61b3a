/**
 * Bases made as Seattle's own packaging makes them (tests/python/seattle_packaging.py): from a
 * fixture laid out like clones of Seattle's repositories, signed by a throwaway operator key with
 * textbook RSA, listed files left out and unsigned platform scripts added after signing. Then made
 * deployable by `cib prepare-base`, with the key trusted through UPDATE_KEYS as an operator would.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCib, tempDir } from './tools.ts';

export const PACKAGING = join(ROOT, 'tests/python/seattle_packaging.py');
export const MUTATE = join(ROOT, 'tests/python/mutate_base.py');
export const DEMO_KEYS = {
  publicKey: join(ROOT, 'demo/update-keys/demo.publickey'),
  privateKey: join(ROOT, 'demo/update-keys/demo.privatekey'),
};
export const SIGNED_AT = '1735732800';

/** What seattle_packaging.py says it did: the signed list, and per platform what differs. */
export interface PackagingReport {
  listed: string[];
  left_out: Record<string, string[]>;
  unsigned: Record<string, string[]>;
}

export interface SeattleBases {
  work: string;
  /** The fixture of clones, with the operator key in softwareupdater.py. */
  clones: string;
  publicKeyFile: string;
  privateKeyFile: string;
  key: string;
  /** The bases as Seattle's packaging wrote them. */
  raw: string;
  /** The same after `cib prepare-base`: append-ready tgz, and manifest.json. */
  deploy: string;
  report: PackagingReport;
  /** process.env with UPDATE_KEYS naming the operator key. */
  env: NodeJS.ProcessEnv;
  /** process.env trusting nothing but the Seattle update key. */
  bareEnv: NodeJS.ProcessEnv;
}

/** seattle_packaging.py bases: the four bases of `clones` signed with the key pair, into `out`. */
export function packageBases(
  clones: string,
  keys: { publicKey: string; privateKey: string },
  out: string,
): PackagingReport {
  return JSON.parse(
    execFileSync(
      'python3',
      [
        PACKAGING,
        'bases',
        '--seattle',
        clones,
        '--pubkey',
        keys.publicKey,
        '--privkey',
        keys.privateKey,
        '--out',
        out,
        '--timestamp',
        SIGNED_AT,
      ],
      { encoding: 'utf8' },
    ),
  ) as PackagingReport;
}

/** seattle_packaging.py clones: the fixture of repositories, its updater naming `publicKey`. */
export function makeClones(out: string, publicKey?: string, nmmainExtra?: string): string {
  execFileSync('python3', [
    PACKAGING,
    'clones',
    out,
    ...(publicKey ? ['--pubkey', publicKey] : []),
    ...(nmmainExtra ? ['--nmmain-extra', nmmainExtra] : []),
  ]);
  return out;
}

let made: SeattleBases | undefined;

/** Made once per test file. */
export function seattleBases(): SeattleBases {
  if (made) return made;
  const work = tempDir('cib-seattle-bases-');
  const keys = join(work, 'keys');
  const keygen = runCib(['keygen', '--bits', '1024', '--name', 'operator', '--out', keys]);
  if (keygen.status !== 0) throw new Error(keygen.stderr);
  const publicKeyFile = join(keys, 'operator.publickey');
  const privateKeyFile = join(keys, 'operator.privatekey');
  const key = readFileSync(publicKeyFile, 'utf8').trim();
  const clones = makeClones(join(work, 'clones'), publicKeyFile);
  const raw = join(work, 'raw');
  const report = packageBases(
    clones,
    { publicKey: publicKeyFile, privateKey: privateKeyFile },
    raw,
  );
  const { UPDATE_KEYS: _k, UPDATE_KEYS_FILE: _f, ...bareEnv } = process.env;
  const env = { ...bareEnv, UPDATE_KEYS: `${key} # the operator's update key` };
  const deploy = join(work, 'deploy');
  const prepared = runCib(['prepare-base', raw, '--out', deploy, '--version', 'seattle-t'], {
    env,
  });
  if (prepared.status !== 0) throw new Error(prepared.stdout + prepared.stderr);
  made = {
    work,
    clones,
    publicKeyFile,
    privateKeyFile,
    key,
    raw,
    deploy,
    report,
    env,
    bareEnv,
  };
  return made;
}
