/**
 * A deployment of bases signed by a throwaway update key that the tests trust through
 * UPDATE_KEYS, as an operator trusts their own: the demo source tree built by `cib make-base`.
 * Tests about customisation mechanics use it wherever a base leaves its deployment's folder, since
 * the demo update key is trusted only inside the demo deployment (docs/keys.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCib, tempDir } from './tools.ts';

export interface TestDeployment {
  /** The bases and their manifest.json. */
  dir: string;
  publicKeyFile: string;
  privateKeyFile: string;
  /** The key "e n". */
  key: string;
  /** process.env with UPDATE_KEYS naming the key (and no UPDATE_KEYS_FILE). */
  env: NodeJS.ProcessEnv;
}

let made: TestDeployment | undefined;

/** Built once per test file (a 1024-bit key: fast, and big enough to sign). */
export function testDeployment(): TestDeployment {
  if (made) return made;
  const dir = tempDir('cib-test-deployment-');
  const keys = join(dir, 'keys');
  const keygen = runCib(['keygen', '--bits', '1024', '--name', 'operator', '--out', keys]);
  if (keygen.status !== 0) throw new Error(keygen.stderr);
  const publicKeyFile = join(keys, 'operator.publickey');
  const privateKeyFile = join(keys, 'operator.privatekey');
  const bases = join(dir, 'bases');
  const build = runCib([
    'make-base',
    '--src',
    join(ROOT, 'demo/source'),
    '--pubkey',
    publicKeyFile,
    '--privkey',
    privateKeyFile,
    '--out',
    bases,
    '--version',
    'test-1',
    '--timestamp',
    '1735732800',
  ]);
  if (build.status !== 0) throw new Error(build.stderr);
  const key = readFileSync(publicKeyFile, 'utf8').trim();
  const { UPDATE_KEYS_FILE: _file, ...rest } = process.env;
  made = {
    dir: bases,
    publicKeyFile,
    privateKeyFile,
    key,
    env: { ...rest, UPDATE_KEYS: `${key} # the tests' operator key` },
  };
  return made;
}
