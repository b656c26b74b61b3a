/**
 * Arbitrary-precision helpers for RSA keys (spec §4): modular arithmetic on native `bigint`,
 * big-endian byte conversion and strict base64 decoding. Pure: no Node built-ins, no DOM.
 */

/** `base ** exponent mod modulus` by square-and-multiply; `exponent` must be non-negative. */
export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  if (modulus <= 0n) throw new RangeError('modPow needs a positive modulus.');
  if (exponent < 0n) throw new RangeError('modPow needs a non-negative exponent.');
  if (modulus === 1n) return 0n;
  let result = 1n;
  let square = ((base % modulus) + modulus) % modulus;
  let rest = exponent;
  while (rest > 0n) {
    if (rest & 1n) result = (result * square) % modulus;
    square = (square * square) % modulus;
    rest >>= 1n;
  }
  return result;
}

/** Greatest common divisor (always non-negative). */
export function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

/** Least common multiple (non-negative; 0 when either argument is 0). */
export function lcm(a: bigint, b: bigint): bigint {
  if (a === 0n || b === 0n) return 0n;
  const product = (a * b) / gcd(a, b);
  return product < 0n ? -product : product;
}

/** The inverse of `a` modulo `modulus`, or `undefined` when they share a factor. */
export function modInverse(a: bigint, modulus: bigint): bigint | undefined {
  if (modulus <= 0n) throw new RangeError('modInverse needs a positive modulus.');
  // Extended Euclid, keeping only the coefficient of `a`.
  let [oldR, r] = [((a % modulus) + modulus) % modulus, modulus];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) return undefined;
  return ((oldS % modulus) + modulus) % modulus;
}

/** Number of significant bits of a non-negative integer (0 for 0). */
export function bitLength(n: bigint): number {
  if (n < 0n) throw new RangeError('bitLength needs a non-negative integer.');
  if (n === 0n) return 0;
  // Hex digits are cheap to produce (a power-of-two radix); only the first needs a closer look.
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

/** Reads bytes as an unsigned big-endian integer (an empty array is 0). */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex === '' ? 0n : BigInt('0x' + hex);
}

/**
 * Writes a non-negative integer as unsigned big-endian bytes: the shortest form (one byte for 0),
 * or left-padded with zeros to `length` when given.
 */
export function bigIntToBytes(n: bigint, length?: number): Uint8Array {
  if (n < 0n) throw new RangeError('bigIntToBytes needs a non-negative integer.');
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const size = hex.length / 2;
  if (length !== undefined && size > length) {
    throw new RangeError(`${n} does not fit in ${length} bytes.`);
  }
  const bytes = new Uint8Array(length ?? size);
  const start = bytes.length - size;
  for (let i = 0; i < size; i++) bytes[start + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

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

/** Strict base64url (RFC 4648 §5), as used by JWK members; padding optional. */
export function base64UrlToBytes(text: string): Uint8Array | undefined {
  return decodeWith(text, BASE64URL_ALPHABET);
}
