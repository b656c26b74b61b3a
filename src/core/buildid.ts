/**
 * Build ids (docs/formats.md#build-id: 40 characters from [a-z0-9]): the SHA-1 of a canonical
 * serialisation of the resolved configuration, so equal configurations get equal ids on every
 * machine. Private keys are never part of it.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type { ResolvedConfig } from './build-config.ts';

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

/** SHA-1 of UTF-8 text as 40 lowercase hex digits. */
export type Sha1Hex = (text: string) => string;

/** The portable SHA-1 (the page, the worker); the server passes Node's native one instead. */
export function nobleSha1Hex(text: string): string {
  return bytesToHex(sha1(new TextEncoder().encode(text)));
}

/** 40 lowercase hex digits: `sha1Hex` of buildIdInput. */
export function buildId(resolved: ResolvedConfig, sha1Hex: Sha1Hex = nobleSha1Hex): string {
  return sha1Hex(buildIdInput(resolved));
}

/** The shape `get_urls` accepts (docs/formats.md#xml-rpc-api). */
export const BUILD_ID_PATTERN = /^[a-z0-9]{40}$/;
