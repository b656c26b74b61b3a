/**
 * The part every building command shares: read a build configuration file, validate it with the
 * core's one validation function, generate key pairs for users without one (written only where the
 * person asked, never printed) and resolve it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './command.ts';
import {
  checkConfig,
  resolveValidConfig,
  usersWithoutKeys,
  type ResolvedConfig,
} from '../core/build-config.ts';
import { fingerprint } from '../core/keys.ts';
import { CibError, problem } from '../core/problems.ts';
import {
  checkKeyBits,
  KEY_BITS,
  type DeploymentSettings,
  type KeyBits,
} from '../core/deployment-settings.ts';
import { printProblems, readJsonFile } from './cli-settings.ts';

const PRIVATE_KEY_MODE = 0o600;
const PUBLIC_KEY_MODE = 0o644;

export const KEY_OPTIONS_HELP = `  --keys-out DIR        generate key pairs for users without a public key and write
                        NAME.publickey and NAME.privatekey (mode 0600) into DIR; without it,
                        users without a key are an error. Private keys are never printed.
  --bits N              size of generated keys: ${KEY_BITS.join(', ')} (default DEFAULT_KEY_BITS or 2048)`;

/** `--bits` checked, or the deployment default. */
export function keyBitsOption(value: string | undefined, settings: DeploymentSettings): KeyBits {
  if (value === undefined) return settings.defaultKeyBits;
  if (!/^[0-9]+$/.test(value) || checkKeyBits(Number(value), '--bits').length > 0) {
    throw new UsageError(`--bits must be one of ${KEY_BITS.join(', ')}, not "${value}".`);
  }
  return Number(value) as KeyBits;
}

/**
 * The resolved configuration of FILE, or undefined after printing its problems (exit 1).
 * Warnings are printed and do not stop the build.
 */
export async function resolveConfigFile(
  file: string,
  settings: DeploymentSettings,
  options: { keysOut?: string; keyBits: KeyBits },
): Promise<ResolvedConfig | undefined> {
  const { keysOut, keyBits } = options;
  if (keysOut === '') throw new UsageError('--keys-out needs a directory.');
  // cliSettings checked the settings already: the configuration's own rules only.
  const { config, problems } = checkConfig(readJsonFile(file), settings);
  printProblems(problems, file);
  if (!config) return undefined;

  const missing = usersWithoutKeys(config);
  if (missing.length > 0) {
    if (keysOut === undefined) {
      throw new CibError(
        problem(
          'cli.keys.missing',
          file,
          `${missing.map((n) => JSON.stringify(n)).join(', ')} ${missing.length === 1 ? 'has' : 'have'} no public key; ` +
            'pass --keys-out DIR to generate key pairs for them (their private keys are written there, never printed).',
        ),
      );
    }
    // Refuse before generating anything: an existing private key may be the only copy.
    const taken = missing
      .flatMap((name) => [`${name}.publickey`, `${name}.privatekey`])
      .map((f) => join(keysOut, f))
      .filter((f) => existsSync(f));
    if (taken.length > 0) {
      throw new CibError(
        taken.map((f) =>
          problem('cli.keys.exists', f, 'The file already exists; it is never overwritten.'),
        ),
      );
    }
  }

  const { resolved, generated } = await resolveValidConfig(config, settings, { keyBits });
  if (keysOut !== undefined && missing.length > 0) {
    mkdirSync(keysOut, { recursive: true });
    for (const [name, pair] of Object.entries(generated)) {
      writeFileSync(join(keysOut, `${name}.publickey`), pair.publicKey, {
        flag: 'wx',
        mode: PUBLIC_KEY_MODE,
      });
      writeFileSync(join(keysOut, `${name}.privatekey`), pair.privateKey, {
        flag: 'wx',
        mode: PRIVATE_KEY_MODE,
      });
      console.error(
        `generated ${keyBits}-bit key ${fingerprint(pair.publicKey)} for ${name} in ${keysOut}`,
      );
    }
  }
  return resolved;
}
