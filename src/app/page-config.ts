import { describeProblems } from '../core/problems.ts';
import {
  checkDeploymentSettings,
  DEFAULT_KEY_BITS,
  type DeploymentSettings,
  type KnownUpdateKey,
} from '../core/deployment-settings.ts';
import type { BaseManifest } from '../core/manifest.ts';
import { knownUpdateKeys } from '../core/software.ts';
import { demoBasesHold, withDemoKey } from '../core/update-trust.ts';

/** What the page reads at start-up from `config.json` (written by scripts/deployment-config.ts). */
export interface PageConfig extends DeploymentSettings {
  /** Absolute URL of the folder holding the base installers and their `manifest.json`. */
  baseInstallersUrl: string;
  /** The Seattle update key, then config.json's `updateKeys`: the keys the software check trusts. */
  knownKeys: KnownUpdateKey[];
  /**
   * config.json's `demoBases`: the SHA-256 of every base, written only when all of them are
   * signed by the demo update key (docs/keys.md). Use `trustedKeysFor`, never this directly.
   */
  demoBases?: string[];
}

/** The update keys the page trusts for the bases this manifest lists (docs/keys.md). */
export function trustedKeysFor(config: PageConfig, manifest: BaseManifest): KnownUpdateKey[] {
  const demo = demoBasesHold(
    manifest.bases.map((b) => b.sha256),
    config.demoBases,
  );
  return withDemoKey(config.knownKeys, demo);
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
    throw new Error(`The settings file config.json is not usable: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return fail('it is not a JSON object.');
  const value = raw as Record<string, unknown>;
  const { settings, problems } = checkDeploymentSettings(
    {
      reservedShare: value.reservedShare,
      reservedKey: value.reservedKey,
      defaultKeyBits: value.defaultKeyBits ?? DEFAULT_KEY_BITS,
      updateKeys: value.updateKeys ?? [],
    },
    {
      reservedShare: 'reservedShare',
      reservedKey: 'reservedKey',
      defaultKeyBits: 'defaultKeyBits',
      updateKeys: 'updateKeys',
    },
  );
  if (!settings) return fail(describeProblems(problems));
  const bases = value.baseInstallersUrl ?? 'base-installers/';
  if (typeof bases !== 'string') return fail('baseInstallersUrl: must be a URL.');
  let baseInstallersUrl = new URL(bases, configUrl).href;
  if (!baseInstallersUrl.endsWith('/')) baseInstallersUrl += '/';
  const demoBases = value.demoBases;
  if (
    demoBases !== undefined &&
    !(
      Array.isArray(demoBases) &&
      demoBases.every((d) => typeof d === 'string' && /^[0-9a-f]{64}$/.test(d))
    )
  )
    return fail('demoBases: must be a list of SHA-256 digests (64 lowercase hex digits).');
  return {
    ...settings,
    baseInstallersUrl,
    knownKeys: knownUpdateKeys(settings.updateKeys),
    ...(demoBases ? { demoBases: demoBases as string[] } : {}),
  };
}
