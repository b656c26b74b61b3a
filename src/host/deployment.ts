import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describeProblems, problem, type Problem } from '../core/problems.ts';
import { SEATTLE_RESERVED_KEY } from '../core/seattle-keys.ts';
import { parseUpdateKeys } from '../core/software.ts';
import {
  checkDeploymentSettings,
  DEFAULT_KEY_BITS,
  DEFAULT_RESERVED_SHARE,
  type DeploymentSettings,
  type KnownUpdateKey,
  type SettingNames,
} from '../core/deployment-settings.ts';

/** The folder holding package.json, found upwards from this module: src/host/ or dist-node/. */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

/** The deployment settings as they were given, not yet checked. */
export type SettingsInput = Parameters<typeof checkDeploymentSettings>[0];

/**
 * The deployment settings as the environment gives them, not yet checked, each named by the
 * variable it came from (RESERVED_SHARE, RESERVED_KEY or RESERVED_KEY_FILE, DEFAULT_KEY_BITS,
 * UPDATE_KEYS or UPDATE_KEYS_FILE), so checkDeploymentSettings's problems name what the operator
 * set. A named file that cannot be read is a problem of its own.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  input: SettingsInput;
  names: SettingNames;
  problems: Problem[];
} {
  const problems: Problem[] = [];
  let keySource = 'RESERVED_KEY';
  let reservedKey = env.RESERVED_KEY?.trim() || undefined;
  if (reservedKey === undefined && env.RESERVED_KEY_FILE) {
    keySource = 'RESERVED_KEY_FILE';
    const read = readSettingFile(
      env.RESERVED_KEY_FILE,
      keySource,
      '; point it at a file holding the key "e n", or unset it to use the Seattle reserved key',
    );
    if (read.problem) problems.push(read.problem);
    reservedKey = read.text?.trim();
  }
  const updateKeys = updateKeysFromEnv(env);
  problems.push(...updateKeys.problems);
  return {
    input: {
      reservedShare: wholeNumber(env.RESERVED_SHARE, DEFAULT_RESERVED_SHARE),
      reservedKey: reservedKey ?? SEATTLE_RESERVED_KEY,
      defaultKeyBits: wholeNumber(env.DEFAULT_KEY_BITS, DEFAULT_KEY_BITS),
      updateKeys: updateKeys.keys,
    },
    names: {
      reservedShare: 'RESERVED_SHARE',
      reservedKey: keySource,
      defaultKeyBits: 'DEFAULT_KEY_BITS',
      updateKeys: updateKeys.source,
    },
    problems,
  };
}

/**
 * Reads deployment settings from the environment, the same way for the server and the page build
 * (the command line adds its options first, src/cli/cli-settings.ts). Throws an Error naming each
 * bad variable.
 */
export function loadDeploymentSettings(env: NodeJS.ProcessEnv = process.env): DeploymentSettings {
  const given = settingsFromEnv(env);
  if (given.problems.length > 0) throw new Error(describeProblems(given.problems));
  const { settings, problems } = checkDeploymentSettings(given.input, given.names);
  if (!settings) throw new Error(describeProblems(problems));
  return settings;
}

/** A setting's file: its text, or a problem naming the variable, the file and why. */
function readSettingFile(
  file: string,
  variable: string,
  hint = '',
): { text?: string; problem?: Problem } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? 'error';
    return {
      problem: problem(
        'settings.file.unreadable',
        variable,
        `cannot read ${file} (${why})${hint}.`,
      ),
    };
  }
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
 * base it serves is signed by it (src/core/update-trust.ts, src/host/demo-bases.ts). `source`
 * names the variable the keys came from.
 */
export function updateKeysFromEnv(env: NodeJS.ProcessEnv = process.env): {
  keys: KnownUpdateKey[];
  source: string;
  problems: Problem[];
} {
  if (env.UPDATE_KEYS === undefined && env.UPDATE_KEYS_FILE) {
    const source = 'UPDATE_KEYS_FILE';
    const read = readSettingFile(env.UPDATE_KEYS_FILE, source);
    if (read.problem) return { keys: [], source, problems: [read.problem] };
    return { ...parseUpdateKeys(read.text ?? '', source), source };
  }
  const source = 'UPDATE_KEYS';
  if (env.UPDATE_KEYS === undefined) return { keys: [], source, problems: [] };
  return { ...parseUpdateKeys(env.UPDATE_KEYS.replace(/;/g, '\n'), source), source };
}
