/**
 * Build ids (spec §6: 40 characters from [a-z0-9]): the SHA-1 of a canonical serialisation of the
 * resolved configuration, so equal configurations get equal ids on every machine. Private keys
 * are never part of it.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ResolvedConfig } from './config.ts';

/** JSON with object keys sorted by UTF-16 code unit, at every level, and no whitespace. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * What the id covers, built field by field so nothing else (a private key, a stray property)
 * can leak in: vessels in their given order with users de-duplicated, public keys by name,
 * the reserved share and the reserved key.
 */
export function buildIdInput(resolved: ResolvedConfig): string {
  return canonicalJson({
    vessels: resolved.vessels.map((v) => ({
      percentage: v.percentage,
      owner: v.owner,
      users: [...new Set(v.users)],
    })),
    publicKeys: Object.fromEntries(Object.entries(resolved.publicKeys)),
    reservedShare: resolved.reservedShare,
    reservedKey: resolved.reservedKey,
  });
}

/** 40 lowercase hex digits. */
export function buildId(resolved: ResolvedConfig): string {
  return bytesToHex(sha1(new TextEncoder().encode(buildIdInput(resolved))));
}

/** The shape `get_urls` accepts (spec §6). */
export const BUILD_ID_PATTERN = /^[a-z0-9]{40}$/;
