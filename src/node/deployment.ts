import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { describeProblems } from '../core/problems.ts';
import { SEATTLE_RESERVED_KEY } from '../core/seattle-keys.ts';
import { parseUpdateKeys, type KnownUpdateKey } from '../core/software.ts';
import {
  DEFAULT_KEY_BITS,
  DEFAULT_RESERVED_SHARE,
  KEY_BITS,
  type DeploymentSettings,
  type KeyBits,
} from '../core/settings.ts';

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/**
 * Reads deployment settings from the environment, the same way for the CLI, the server and the
 * page build: RESERVED_SHARE, RESERVED_KEY (a key string) or RESERVED_KEY_FILE (else the Seattle
 * reserved key), DEFAULT_KEY_BITS.
 */
export function loadDeploymentSettings(env: NodeJS.ProcessEnv = process.env): DeploymentSettings {
  const reservedShare = env.RESERVED_SHARE ? Number(env.RESERVED_SHARE) : DEFAULT_RESERVED_SHARE;
  if (
    !Number.isInteger(reservedShare) ||
    reservedShare < 0 ||
    reservedShare > 90 ||
    reservedShare % 10 !== 0
  ) {
    throw new Error(
      `RESERVED_SHARE must be a multiple of 10 from 0 to 90, not "${env.RESERVED_SHARE}".`,
    );
  }
  let reservedKey = env.RESERVED_KEY?.trim();
  if (!reservedKey && env.RESERVED_KEY_FILE) {
    const file = env.RESERVED_KEY_FILE;
    try {
      reservedKey = readFileSync(file, 'utf8').trim();
    } catch {
      throw new Error(
        `RESERVED_KEY_FILE: cannot read ${file}; set RESERVED_KEY_FILE to a readable key file, or unset it to use the Seattle reserved key.`,
      );
    }
  }
  reservedKey ||= SEATTLE_RESERVED_KEY;
  const bits = env.DEFAULT_KEY_BITS ? Number(env.DEFAULT_KEY_BITS) : DEFAULT_KEY_BITS;
  if (!(KEY_BITS as readonly number[]).includes(bits)) {
    throw new Error(`DEFAULT_KEY_BITS must be one of ${KEY_BITS.join(', ')}.`);
  }
  return {
    reservedShare,
    reservedKey,
    defaultKeyBits: bits as KeyBits,
    updateKeys: loadUpdateKeys(env),
  };
}

/** The demo bases' update key: its private key is in the repository, so it proves nothing. */
export const DEMO_UPDATE_KEY_FILE = resolve(PROJECT_ROOT, 'demo/update-keys/demo.publickey');
export const DEMO_UPDATE_KEY_LABEL = 'the demo update key';

/**
 * Update keys trusted besides the Seattle update key: UPDATE_KEYS (keys "e n" separated by ";" or
 * new lines, each optionally followed by "# label") or UPDATE_KEYS_FILE (one per line). With
 * neither set, the demo update key, so the committed demo bases build without a warning; an
 * operator who serves real bases sets UPDATE_KEYS (empty for the Seattle key alone).
 */
export function loadUpdateKeys(env: NodeJS.ProcessEnv = process.env): KnownUpdateKey[] {
  let text = env.UPDATE_KEYS;
  let source = 'UPDATE_KEYS';
  if (text === undefined && env.UPDATE_KEYS_FILE) {
    source = 'UPDATE_KEYS_FILE';
    try {
      text = readFileSync(env.UPDATE_KEYS_FILE, 'utf8');
    } catch {
      throw new Error(`UPDATE_KEYS_FILE: cannot read ${env.UPDATE_KEYS_FILE}.`);
    }
  }
  if (text === undefined) {
    const demo = readFileSync(DEMO_UPDATE_KEY_FILE, 'utf8').trim();
    return [{ key: demo, label: DEMO_UPDATE_KEY_LABEL }];
  }
  const { keys, problems } = parseUpdateKeys(
    source === 'UPDATE_KEYS' ? text.replace(/;/g, '\n') : text,
    source,
  );
  if (problems.length > 0) throw new Error(describeProblems(problems));
  return keys;
}
