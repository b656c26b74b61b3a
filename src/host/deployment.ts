import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describeProblems } from '../core/problems.ts';
import { SEATTLE_RESERVED_KEY } from '../core/seattle-keys.ts';
import { parseUpdateKeys } from '../core/software.ts';
import {
  checkDeploymentSettings,
  DEFAULT_KEY_BITS,
  DEFAULT_RESERVED_SHARE,
  type DeploymentSettings,
  type KnownUpdateKey,
} from '../core/deployment-settings.ts';

/** The folder holding package.json, found upwards from this module: src/host/ or dist-node/. */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Reads deployment settings from the environment, the same way for the command line, the server
 * and the page build: RESERVED_SHARE, RESERVED_KEY (a key string) or RESERVED_KEY_FILE (else the
 * Seattle reserved key), DEFAULT_KEY_BITS. Throws an Error naming each bad variable.
 */
export function loadDeploymentSettings(env: NodeJS.ProcessEnv = process.env): DeploymentSettings {
  let keySource = 'RESERVED_KEY';
  let reservedKey = env.RESERVED_KEY?.trim() || undefined;
  if (reservedKey === undefined && env.RESERVED_KEY_FILE) {
    keySource = 'RESERVED_KEY_FILE';
    try {
      reservedKey = readFileSync(env.RESERVED_KEY_FILE, 'utf8').trim();
    } catch (error) {
      throw new Error(
        `RESERVED_KEY_FILE: cannot read ${env.RESERVED_KEY_FILE} (${(error as NodeJS.ErrnoException).code ?? 'error'}); point it at a file holding the key "e n", or unset it to use the Seattle reserved key.`,
      );
    }
  }
  const { settings, problems } = checkDeploymentSettings(
    {
      reservedShare: wholeNumber(env.RESERVED_SHARE, DEFAULT_RESERVED_SHARE),
      reservedKey: reservedKey ?? SEATTLE_RESERVED_KEY,
      defaultKeyBits: wholeNumber(env.DEFAULT_KEY_BITS, DEFAULT_KEY_BITS),
      updateKeys: loadUpdateKeys(env),
    },
    {
      reservedShare: 'RESERVED_SHARE',
      reservedKey: keySource,
      defaultKeyBits: 'DEFAULT_KEY_BITS',
      updateKeys:
        env.UPDATE_KEYS === undefined && env.UPDATE_KEYS_FILE ? 'UPDATE_KEYS_FILE' : 'UPDATE_KEYS',
    },
  );
  if (!settings) throw new Error(describeProblems(problems));
  return settings;
}

/** An unset variable gives the default; anything but digits stays text, which the check names. */
function wholeNumber(text: string | undefined, fallback: number): number | string {
  if (text === undefined || text.trim() === '') return fallback;
  return /^\s*[0-9]+\s*$/.test(text) ? Number(text) : text;
}

/**
 * The page's `config.json` for these settings: written into dist/ by the build (for static
 * hosting) and served by the server from its own validated settings, so the two never disagree.
 * `demoBases` is given only when every base being deployed is signed by the demo update key: the
 * SHA-256 of each, so the page trusts the demo key only while its manifest lists exactly these
 * bases (docs/keys.md).
 */
export function pageConfigOf(
  settings: DeploymentSettings,
  demoBases?: readonly string[],
): Record<string, unknown> {
  return {
    ...settings,
    // Relative to the page, so dist/ works under any sub-path.
    baseInstallersUrl: 'base-installers/',
    ...(demoBases && demoBases.length > 0 ? { demoBases: [...demoBases] } : {}),
  };
}

/**
 * Update keys trusted besides the Seattle update key: UPDATE_KEYS (keys "e n" separated by ";" or
 * new lines, each optionally followed by "# label") or UPDATE_KEYS_FILE (one per line); none when
 * neither is set. The demo update key is refused here: a deployment trusts it only while every
 * base it serves is signed by it (src/core/update-trust.ts, src/host/demo-bases.ts).
 */
export function loadUpdateKeys(env: NodeJS.ProcessEnv = process.env): KnownUpdateKey[] {
  let text = env.UPDATE_KEYS;
  let source = 'UPDATE_KEYS';
  if (text === undefined && env.UPDATE_KEYS_FILE) {
    source = 'UPDATE_KEYS_FILE';
    try {
      text = readFileSync(env.UPDATE_KEYS_FILE, 'utf8');
    } catch (error) {
      throw new Error(
        `UPDATE_KEYS_FILE: cannot read ${env.UPDATE_KEYS_FILE} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
  }
  if (text === undefined) return [];
  const { keys, problems } = parseUpdateKeys(
    source === 'UPDATE_KEYS' ? text.replace(/;/g, '\n') : text,
    source,
  );
  if (problems.length > 0) throw new Error(describeProblems(problems));
  return keys;
}
