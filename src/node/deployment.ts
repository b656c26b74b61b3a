import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { SEATTLE_RESERVED_KEY } from '../core/seattle-keys.ts';
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
  return { reservedShare, reservedKey, defaultKeyBits: bits as KeyBits };
}
