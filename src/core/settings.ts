import type { KnownUpdateKey } from './software.ts';

/** Deployment settings: configuration an operator changes, never constants buried in code. */
export interface DeploymentSettings {
  /** Share of the node kept for the operator's reserved vessel, in percent (multiple of 10). */
  reservedShare: number;
  /** Seattle public-key string `"e n"` that owns the reserved vessel. */
  reservedKey: string;
  /** Key size the page and the command line generate by default. */
  defaultKeyBits: KeyBits;
  /** Software-update keys trusted besides the Seattle update key (UPDATE_KEYS, config.json). */
  updateKeys?: KnownUpdateKey[];
}

export const KEY_BITS = [1024, 2048, 3072, 4096] as const;
export type KeyBits = (typeof KEY_BITS)[number];

export const DEFAULT_RESERVED_SHARE = 20;
export const DEFAULT_KEY_BITS: KeyBits = 2048;
/** The node-side installer caps a build at this many vessels designed by the person (spec §5). */
export const MAX_USER_VESSELS = 8;
export const PERCENT_STEP = 10;
