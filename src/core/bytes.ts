/**
 * Byte helpers the archive, key and share-link code all use: joining, comparing, the little-endian
 * (and SSH's one big-endian) integer reads and writes, a backwards search, and the one base64 codec
 * (RFC 4648). Every other file takes these from here rather than a DataView or shifts of its own.
 * Pure: no Node built-ins, no DOM.
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

/** 64-bit little-endian value as a number; values past 2^53 cannot describe bytes we hold. */
export function read64(bytes: Uint8Array, at: number): number {
  return read32(bytes, at) + read32(bytes, at + 4) * 0x1_0000_0000;
}

/** Unsigned 32-bit big-endian value at `at` (network order, as SSH's wire format writes it). */
export function read32BE(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
  );
}

/** Writes the low 16 bits of `value` little-endian at `at`. */
export function write16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
}

/** Writes the low 32 bits of `value` little-endian at `at`. */
export function write32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff;
  bytes[at + 1] = (value >>> 8) & 0xff;
  bytes[at + 2] = (value >>> 16) & 0xff;
  bytes[at + 3] = (value >>> 24) & 0xff;
}

/** Writes a whole number below 2^53 as 64 bits little-endian at `at`. */
export function write64(bytes: Uint8Array, at: number, value: number): void {
  write32(bytes, at, value % 0x1_0000_0000);
  write32(bytes, at + 4, Math.floor(value / 0x1_0000_0000));
}

/** Whether the two hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
