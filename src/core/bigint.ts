/**
 * Arbitrary-precision helpers for RSA keys (docs/formats.md#keys): modular arithmetic on native
 * `bigint` and big-endian bytes to integers. Pure: no Node built-ins, no DOM.
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
