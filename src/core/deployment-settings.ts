/** Deployment settings: configuration an operator changes, never constants buried in code. */
import { formatPublicKey, parsePublicKey } from './keys.ts';
import { errorsOf, problem, type Problem } from './problems.ts';
import { demoKeySettingProblem } from './update-trust.ts';

/** A software-update key the software check trusts, with the name people are shown for it. */
export interface KnownUpdateKey {
  key: string;
  label: string;
}

export interface DeploymentSettings {
  /** Share of the node kept for the operator's reserved vessel, in percent (multiple of 10). */
  reservedShare: number;
  /** Seattle public-key string `"e n"` that owns the reserved vessel. */
  reservedKey: string;
  /** Key size the page and the command line generate by default. */
  defaultKeyBits: KeyBits;
  /**
   * Software-update keys trusted besides the Seattle update key (UPDATE_KEYS, config.json); never
   * the demo update key, which only a deployment's own bases can earn (src/core/update-trust.ts).
   */
  updateKeys: KnownUpdateKey[];
}

export const KEY_BITS = [1024, 2048, 3072, 4096] as const;
export type KeyBits = (typeof KEY_BITS)[number];

export const DEFAULT_RESERVED_SHARE = 20;
export const DEFAULT_KEY_BITS: KeyBits = 2048;
/**
 * Vessels the person designs in one build: the old web builder offered 8, and this builder keeps
 * that cap (docs/formats.md#build-configuration).
 */
export const MAX_USER_VESSELS = 8;
export const PERCENT_STEP = 10;

/** The highest reserved share: the person keeps at least one 10% vessel. */
export const MAX_RESERVED_SHARE = 90;

/**
 * What each setting is called where it came from (an environment variable, a config.json field).
 */
export type SettingNames = Record<keyof DeploymentSettings, string>;

export const SETTING_FIELDS: SettingNames = {
  reservedShare: 'settings.reservedShare',
  reservedKey: 'settings.reservedKey',
  defaultKeyBits: 'settings.defaultKeyBits',
  updateKeys: 'settings.updateKeys',
};

export function checkReservedShare(share: unknown, path: string): Problem[] {
  if (
    typeof share === 'number' &&
    Number.isInteger(share) &&
    share >= 0 &&
    share <= MAX_RESERVED_SHARE &&
    share % PERCENT_STEP === 0
  ) {
    return [];
  }
  return [
    problem(
      'settings.reserved-share.invalid',
      path,
      `The reserved share must be a multiple of ${PERCENT_STEP} from 0 to ${MAX_RESERVED_SHARE}, not ${JSON.stringify(share)}.`,
    ),
  ];
}

export function checkReservedKey(key: unknown, path: string): Problem[] {
  if (typeof key !== 'string') {
    return [
      problem(
        'settings.reserved-key.invalid',
        path,
        'The reserved key must be a Seattle public key string "e n".',
      ),
    ];
  }
  // Only errors: a weak reserved key is the operator's choice and would otherwise warn every donor.
  return errorsOf(parsePublicKey(key, path).problems).map((p) =>
    problem(
      'settings.reserved-key.invalid',
      path,
      `The reserved key is not a valid Seattle public key: ${p.message}`,
    ),
  );
}

export function checkKeyBits(bits: unknown, path: string): Problem[] {
  if ((KEY_BITS as readonly unknown[]).includes(bits)) return [];
  return [
    problem(
      'settings.default-key-bits.invalid',
      path,
      `The default key size must be one of ${KEY_BITS.join(', ')} bits, not ${JSON.stringify(bits)}.`,
    ),
  ];
}

/**
 * The one check of deployment settings, for the server and the command line (from the
 * environment) and the page (from config.json). Each problem's path is the setting's name where
 * it came from, so an operator sees `RESERVED_SHARE: …` or `config.json reservedShare: …`.
 */
export function checkDeploymentSettings(
  input: {
    reservedShare: unknown;
    reservedKey: unknown;
    defaultKeyBits: unknown;
    updateKeys?: unknown;
  },
  names: SettingNames = SETTING_FIELDS,
): { settings?: DeploymentSettings; problems: Problem[] } {
  const updateKeys = checkUpdateKeys(input.updateKeys ?? [], names.updateKeys);
  const problems = [
    ...checkReservedShare(input.reservedShare, names.reservedShare),
    ...checkReservedKey(input.reservedKey, names.reservedKey),
    ...checkKeyBits(input.defaultKeyBits, names.defaultKeyBits),
    ...updateKeys.problems,
  ];
  if (problems.length > 0) return { problems };
  return {
    settings: {
      reservedShare: input.reservedShare as number,
      reservedKey: (input.reservedKey as string).trim(),
      defaultKeyBits: input.defaultKeyBits as KeyBits,
      updateKeys: updateKeys.keys,
    },
    problems,
  };
}

/** A list of `{key: "e n", label}`; each key in its canonical form. */
function checkUpdateKeys(
  value: unknown,
  path: string,
): { keys: KnownUpdateKey[]; problems: Problem[] } {
  if (!Array.isArray(value)) {
    return {
      keys: [],
      problems: [
        problem(
          'settings.update-keys.invalid',
          path,
          'The update keys must be a list of {"key": "e n", "label": "…"}.',
        ),
      ],
    };
  }
  const keys: KnownUpdateKey[] = [];
  const problems: Problem[] = [];
  value.forEach((entry: unknown, i) => {
    const at = `${path}[${i}]`;
    const { key, label } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<
      string,
      unknown
    >;
    const parsed = typeof key === 'string' ? parsePublicKey(key, at) : undefined;
    const errors = parsed ? errorsOf(parsed.problems) : [];
    if (!parsed?.key || errors.length > 0 || typeof label !== 'string') {
      problems.push(
        problem(
          'settings.update-keys.invalid',
          at,
          errors[0]?.message ?? 'Each update key is {"key": "e n", "label": "…"}.',
        ),
      );
      return;
    }
    const canonical = formatPublicKey(parsed.key);
    const demo = demoKeySettingProblem(canonical, at);
    if (demo) {
      problems.push(demo);
      return;
    }
    keys.push({ key: canonical, label });
  });
  return { keys, problems };
}
