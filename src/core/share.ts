/**
 * The share codec: the person's part of a resolved configuration as one compact, URL-safe string,
 * so a link can carry a whole build. Format, version 1:
 *
 *   "1." + base64url(deflate-raw(UTF-8(JSON {"v": [[percentage, owner, [users…]], …],
 *                                            "k": {name: "e n", …}})))
 *
 * base64url without padding (RFC 4648 §5), raw deflate (RFC 1951). The reserved vessel is not in
 * the link: it is the operator's, so the decoder takes it from the builder's own settings (which
 * also halves a typical link, the public service's reserved key being a 4096-bit key with a
 * 308-digit exponent). Decoding never throws: every failure, and every rule the decoded
 * configuration breaks under those settings, is a problem with a `share.*` code.
 */
import { deflateSync, inflateSync } from 'fflate';
import {
  resolvedOf,
  validateConfig,
  userNamesOf,
  type BuildConfig,
  type ReservedSettings,
  type ResolvedConfig,
} from './build-config.ts';
import { base64UrlToBytes, bytesToBase64Url } from './bytes.ts';
import { errorsOf, problem, type Problem } from './problems.ts';

export const SHARE_VERSION = 1;
const SHARE_PREFIX = `${SHARE_VERSION}.`;
/** Longest share string accepted; a build of 8 vessels and 20 users with 4096-bit keys is ~15 000. */
export const MAX_SHARE_CHARS = 65_536;
/** Largest decompressed payload accepted, so a small string cannot inflate into a huge one. */
export const MAX_SHARE_JSON_BYTES = 1_048_576;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The compact JSON payload (short field names keep links short). */
interface SharePayload {
  v: [percentage: number, owner: string, users: string[]][];
  k: Record<string, string>;
}

/** Unpadded base64url only: the codec also takes padding, which a link never carries. */
function fromBase64Url(text: string): Uint8Array | undefined {
  return BASE64URL.test(text) ? base64UrlToBytes(text) : undefined;
}

export function encodeShare(resolved: ResolvedConfig): string {
  const payload: SharePayload = {
    v: resolved.vessels.map((v) => [v.percentage, v.owner, [...new Set(v.users)]]),
    k: Object.fromEntries(
      userNamesOf(resolved.vessels).map((name) => [name, resolved.publicKeys[name] ?? '']),
    ),
  };
  const json = new TextEncoder().encode(JSON.stringify(payload));
  return SHARE_PREFIX + bytesToBase64Url(deflateSync(json, { level: 9 }));
}

function fail(code: string, message: string): { problems: Problem[] } {
  return { problems: [problem(code, 'share', message)] };
}

const SHAPE_MESSAGE =
  'The shared configuration has the wrong shape; the link may be cut short or altered.';

/** Checks the payload's JSON types; the rules themselves are validateConfig's. */
function isPayload(value: unknown): value is SharePayload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const p = value as Record<string, unknown>;
  const keys = p.k;
  return (
    Array.isArray(p.v) &&
    p.v.every(
      (v: unknown) =>
        Array.isArray(v) &&
        v.length === 3 &&
        typeof v[0] === 'number' &&
        typeof v[1] === 'string' &&
        Array.isArray(v[2]) &&
        v[2].every((u: unknown) => typeof u === 'string'),
    ) &&
    typeof keys === 'object' &&
    keys !== null &&
    !Array.isArray(keys) &&
    Object.values(keys).every((k) => typeof k === 'string')
  );
}

export function decodeShare(
  text: string,
  settings: ReservedSettings,
): { resolved?: ResolvedConfig; problems: Problem[] } {
  const trimmed = text.trim();
  if (trimmed.length > MAX_SHARE_CHARS) {
    return fail(
      'share.too-long',
      `The shared configuration is longer than ${MAX_SHARE_CHARS} characters.`,
    );
  }
  const dot = trimmed.indexOf('.');
  const version = dot < 0 ? '' : trimmed.slice(0, dot);
  if (!/^[0-9]+$/.test(version)) {
    return fail('share.format', 'This is not a shared configuration (it should start with "1.").');
  }
  if (version !== String(SHARE_VERSION)) {
    return fail(
      'share.version',
      `The shared configuration has version ${version}; this builder reads version ${SHARE_VERSION}.`,
    );
  }
  const bytes = fromBase64Url(trimmed.slice(dot + 1));
  if (!bytes) {
    return fail(
      'share.base64',
      'The shared configuration has characters or a length a link cannot have; it may be cut short.',
    );
  }
  let inflated: Uint8Array;
  try {
    // With a fixed output buffer fflate stops when it is full: one byte more tells "too large".
    inflated = inflateSync(bytes, { out: new Uint8Array(MAX_SHARE_JSON_BYTES + 1) });
  } catch {
    return fail(
      'share.deflate',
      'The shared configuration cannot be decompressed; it may be cut short or altered.',
    );
  }
  if (inflated.length > MAX_SHARE_JSON_BYTES) {
    return fail(
      'share.too-large',
      'The shared configuration decompresses to more than a megabyte.',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(inflated));
  } catch {
    return fail('share.json', 'The shared configuration is not valid JSON after decompression.');
  }
  if (!isPayload(value)) return fail('share.shape', SHAPE_MESSAGE);

  const config: BuildConfig = {
    vessels: value.v.map(([percentage, owner, users]) => ({ percentage, owner, users })),
    user_data: Object.fromEntries(
      Object.entries(value.k).map(([name, key]) => [name, { public_key: key }]),
    ),
  };
  // The same rules as every other caller; codes prefixed so the caller knows the link is at fault.
  const checked = validateConfig(config, settings);
  const problems = checked.problems.map((p) => ({ ...p, code: `share.${p.code}` }));
  for (const name of userNamesOf(config.vessels)) {
    if (!Object.hasOwn(value.k, name)) {
      problems.push(
        problem(
          'share.key.missing',
          `user_data.${name}`,
          `The shared configuration has no public key for ${JSON.stringify(name)}.`,
        ),
      );
    }
  }
  if (!checked.config || errorsOf(problems).length > 0) return { problems };
  try {
    return { resolved: resolvedOf(checked.config, settings), problems };
  } catch (error) {
    // Never expected once validation passed; a link must still end in a message, not a throw.
    return fail(
      'share.unreadable',
      `The shared configuration cannot be used (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
}
