/**
 * Byte helpers the archive, key and share-link code all use: joining, little-endian reads, a
 * backwards search, and the one base64 codec (RFC 4648). Pure: no Node built-ins, no DOM.
 */

/** The parts one after the other in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Unsigned 16-bit little-endian value at `at`. */
export function read16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

/** Unsigned 32-bit little-endian value at `at`. */
export function read32(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
  );
}

/** The last position at or after `from` where `needle` starts in `haystack`, or -1. */
export function lastIndexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = haystack.length - needle.length; i >= from; i--) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// base64 (RFC 4648 §4) and base64url (§5)

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function decodeWith(text: string, alphabet: string): Uint8Array | undefined {
  const body = text.replace(/={1,2}$/, '');
  // With padding the length must be a multiple of 4; a lone trailing symbol never encodes a byte.
  if (body.length !== text.length && text.length % 4 !== 0) return undefined;
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let buffer = 0;
  let written = 0;
  for (const char of body) {
    const value = alphabet.indexOf(char);
    if (value < 0) return undefined;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[written++] = (buffer >> bits) & 0xff;
      buffer &= (1 << bits) - 1;
    }
  }
  return out;
}

/**
 * Strict standard base64 (RFC 4648 §4): no whitespace, padding optional but correct.
 * Returns `undefined` for anything else rather than guessing.
 */
export function base64ToBytes(text: string): Uint8Array | undefined {
  return decodeWith(text, BASE64_ALPHABET);
}

/** Strict base64url (RFC 4648 §5), as used by JWK members and share links; padding optional. */
export function base64UrlToBytes(text: string): Uint8Array | undefined {
  return decodeWith(text, BASE64URL_ALPHABET);
}

/** base64url (RFC 4648 §5) without padding. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  let out = '';
  let at = 0;
  for (; at + 3 <= bytes.length; at += 3) {
    const n = (bytes[at]! << 16) | (bytes[at + 1]! << 8) | bytes[at + 2]!;
    out +=
      BASE64URL_ALPHABET[n >> 18]! +
      BASE64URL_ALPHABET[(n >> 12) & 63]! +
      BASE64URL_ALPHABET[(n >> 6) & 63]! +
      BASE64URL_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - at;
  if (rest > 0) {
    const n = (bytes[at]! << 16) | (rest === 2 ? bytes[at + 1]! << 8 : 0);
    out += BASE64URL_ALPHABET[n >> 18]! + BASE64URL_ALPHABET[(n >> 12) & 63]!;
    if (rest === 2) out += BASE64URL_ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}
