import { KEY_BITS, type DeploymentSettings, type KeyBits } from '../core/settings.ts';
import { knownUpdateKeys, type KnownUpdateKey } from '../core/software.ts';

/** What the page reads at start-up from `config.json` (written by scripts/deployment-config.ts). */
export interface PageConfig extends DeploymentSettings {
  /** Absolute URL of the folder holding the base installers and their `manifest.json`. */
  baseInstallersUrl: string;
  /** The Seattle update key, then config.json's `updateKeys`: the keys the software check trusts. */
  knownKeys?: KnownUpdateKey[];
}

const CONFIG_FILE = 'config.json';

/** Loads the operator's settings; relative URLs resolve against the page so any sub-path works. */
export async function loadPageConfig(pageUrl: string = document.baseURI): Promise<PageConfig> {
  const url = new URL(CONFIG_FILE, pageUrl);
  let response: Response;
  try {
    response = await fetch(url, { cache: 'no-cache' });
  } catch {
    throw new Error(`The page could not load its settings from ${url.pathname}.`);
  }
  if (!response.ok) {
    throw new Error(
      `The page could not load its settings: ${url.pathname} answered ${response.status}.`,
    );
  }
  const raw: unknown = await response.json();
  return checkPageConfig(raw, url.href);
}

function checkPageConfig(raw: unknown, configUrl: string): PageConfig {
  const fail = (what: string): never => {
    throw new Error(`The settings file config.json is not usable: ${what}.`);
  };
  if (typeof raw !== 'object' || raw === null) return fail('it is not a JSON object');
  const value = raw as Record<string, unknown>;
  const reservedShare = value.reservedShare;
  if (
    typeof reservedShare !== 'number' ||
    !Number.isInteger(reservedShare) ||
    reservedShare % 10 !== 0 ||
    reservedShare < 0 ||
    reservedShare > 90
  ) {
    fail('reservedShare must be a multiple of 10 from 0 to 90');
  }
  if (typeof value.reservedKey !== 'string' || !/^\d+ \d+$/.test(value.reservedKey.trim())) {
    fail('reservedKey must be a public key "e n"');
  }
  const bits = value.defaultKeyBits ?? 2048;
  if (!(KEY_BITS as readonly unknown[]).includes(bits))
    fail(`defaultKeyBits must be one of ${KEY_BITS.join(', ')}`);
  const bases = value.baseInstallersUrl ?? 'base-installers/';
  if (typeof bases !== 'string') fail('baseInstallersUrl must be a URL');
  const updateKeys = value.updateKeys ?? [];
  if (
    !Array.isArray(updateKeys) ||
    !updateKeys.every(
      (k: unknown) =>
        typeof k === 'object' &&
        k !== null &&
        typeof (k as KnownUpdateKey).key === 'string' &&
        /^\d+ \d+$/.test((k as KnownUpdateKey).key.trim()) &&
        typeof (k as KnownUpdateKey).label === 'string',
    )
  ) {
    fail('updateKeys must be a list of {"key": "e n", "label": "…"}');
  }
  let baseInstallersUrl = new URL(bases as string, configUrl).href;
  if (!baseInstallersUrl.endsWith('/')) baseInstallersUrl += '/';
  return {
    reservedShare: reservedShare as number,
    reservedKey: (value.reservedKey as string).trim(),
    defaultKeyBits: bits as KeyBits,
    baseInstallersUrl,
    updateKeys: updateKeys as KnownUpdateKey[],
    knownKeys: knownUpdateKeys(updateKeys as KnownUpdateKey[]),
  };
}
