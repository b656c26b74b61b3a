/**
 * Seattle RSA key strings (docs/formats.md#keys): public `"e n"`, private `"d p q"`, all decimal.
 * Seattle's own validity rule is only "positive integers and e < n": no exponent is assumed.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bitLength, lcm } from './bigint.ts';
import { errorsOf, problem, type Problem } from './problems.ts';

export interface PublicKey {
  e: bigint;
  n: bigint;
}
export interface PrivateKey {
  d: bigint;
  p: bigint;
  q: bigint;
}

/**
 * Moduli below this many bits are accepted with a `key.public.weak` warning (docs/formats.md#keys).
 */
export const WEAK_MODULUS_BITS = 1024;
/**
 * Longest decimal number accepted in a key (about 33 000 bits, far past any real RSA key).
 * A deliberate addition to Seattle's rule: it keeps a pasted megabyte of digits from stalling
 * the page or the server while it is converted to a number.
 */
export const MAX_KEY_DIGITS = 10_000;

// Leading zeros are allowed, as Seattle's int() allows them; formatting writes the canonical form.
const DECIMAL = /^[0-9]+$/;

/** What the key is called in messages, and where its problems point. */
interface KeyKind {
  code: 'key.public' | 'key.private';
  noun: string;
  fields: readonly string[];
  shape: string;
}
const PUBLIC_KIND: KeyKind = {
  code: 'key.public',
  noun: 'public key',
  fields: ['e', 'n'],
  shape: '"e n"',
};
const PRIVATE_KIND: KeyKind = {
  code: 'key.private',
  noun: 'private key',
  fields: ['d', 'p', 'q'],
  shape: '"d p q"',
};

/** Splits and checks the decimal fields common to both key strings; pushes problems. */
function parseFields(
  text: string,
  path: string,
  kind: KeyKind,
  problems: Problem[],
): bigint[] | undefined {
  const trimmed = text.trim();
  const count = kind.fields.length;
  if (trimmed === '') {
    problems.push(problem(`${kind.code}.empty`, path, `The ${kind.noun} is empty.`));
    return undefined;
  }
  const words = trimmed.split(/\s+/);
  if (words.length !== count) {
    problems.push(
      problem(
        `${kind.code}.fields`,
        path,
        `A Seattle ${kind.noun} is ${count} decimal numbers ${kind.shape} separated by single spaces; this one has ${words.length} part${words.length === 1 ? '' : 's'}.`,
      ),
    );
    return undefined;
  }
  if (trimmed !== words.join(' ')) {
    problems.push(
      problem(
        `${kind.code}.separator`,
        path,
        `The numbers of a Seattle ${kind.noun} must be separated by exactly one space.`,
      ),
    );
    return undefined;
  }
  const values: bigint[] = [];
  for (const [i, word] of words.entries()) {
    const name = kind.fields[i]!;
    if (!DECIMAL.test(word)) {
      problems.push(
        problem(
          `${kind.code}.not-decimal`,
          path,
          `The ${kind.noun}'s ${name} must be a positive decimal integer (digits 0-9 only, no sign, no hex), not "${word.length > 20 ? word.slice(0, 20) + '…' : word}".`,
        ),
      );
      return undefined;
    }
    if (word.length > MAX_KEY_DIGITS) {
      problems.push(
        problem(
          `${kind.code}.too-long`,
          path,
          `The ${kind.noun}'s ${name} has ${word.length} digits; at most ${MAX_KEY_DIGITS} are accepted.`,
        ),
      );
      return undefined;
    }
    const value = BigInt(word);
    if (value === 0n) {
      problems.push(
        problem(
          `${kind.code}.not-positive`,
          path,
          `The ${kind.noun}'s ${name} must be positive, not 0.`,
        ),
      );
      return undefined;
    }
    values.push(value);
  }
  return values;
}

export interface ParseKeyOptions {
  /**
   * How to report a key no RSA key can be (e = 1, e even, n even). Where keys enter a build it is
   * an error; reading a vesselinfo as the node does, a warning, since the node accepts them.
   */
  unusable?: 'error' | 'warning';
}

/**
 * Parses a Seattle public key: after trimming, two positive decimal integers separated by one
 * space, with e < n, e odd and above 1, n odd. A modulus under 1024 bits is returned with a
 * `key.public.weak` warning.
 */
export function parsePublicKey(
  text: string,
  path = '',
  options: ParseKeyOptions = {},
): { key?: PublicKey; problems: Problem[] } {
  const severity = options.unusable ?? 'error';
  const problems: Problem[] = [];
  const values = parseFields(text, path, PUBLIC_KIND, problems);
  if (!values) return { problems };
  const [e, n] = values as [bigint, bigint];
  if (e >= n) {
    problems.push(
      problem(
        'key.public.exponent-too-large',
        path,
        "The public key's first number (the exponent e) must be smaller than its second (the modulus n); are they swapped?",
      ),
    );
    return { problems };
  }
  // Seattle's rule stops at e < n; these keys pass it yet can verify nothing, so they are refused.
  if (e === 1n) {
    problems.push(
      problem(
        'key.public.exponent-one',
        path,
        "The public key's exponent e is 1: such a key signs nothing, it copies the message. Real keys use 65537.",
        severity,
      ),
    );
  } else if (e % 2n === 0n) {
    problems.push(
      problem(
        'key.public.exponent-even',
        path,
        "The public key's exponent e is even, which no RSA key can have (real keys use 65537).",
        severity,
      ),
    );
  }
  if (n % 2n === 0n) {
    problems.push(
      problem(
        'key.public.modulus-even',
        path,
        "The public key's modulus n is even, which no RSA key can have: it is a product of two odd primes.",
        severity,
      ),
    );
  }
  if (errorsOf(problems).length) return { problems };
  const bits = modulusBits(n);
  if (bits < WEAK_MODULUS_BITS) {
    problems.push(
      problem(
        'key.public.weak',
        path,
        `This public key has a ${bits}-bit modulus; keys under ${WEAK_MODULUS_BITS} bits can be broken, use 2048 bits or more.`,
        'warning',
      ),
    );
  }
  return { key: { e, n }, problems };
}

/** The canonical Seattle string `"e n"`. */
export function formatPublicKey(key: PublicKey): string {
  return `${key.e} ${key.n}`;
}

/** Parses a Seattle private key: after trimming, three positive decimal integers `"d p q"`. */
export function parsePrivateKey(
  text: string,
  path = '',
): { key?: PrivateKey; problems: Problem[] } {
  const problems: Problem[] = [];
  const values = parseFields(text, path, PRIVATE_KIND, problems);
  if (!values) return { problems };
  const [d, p, q] = values as [bigint, bigint, bigint];
  return { key: { d, p, q }, problems };
}

/** The canonical Seattle string `"d p q"`. */
export function formatPrivateKey(key: PrivateKey): string {
  return `${key.d} ${key.p} ${key.q}`;
}

/** True when the private key belongs to the public key: n = p·q and e·d ≡ 1 (mod lcm(p−1, q−1)). */
export function privateKeyMatches(pub: PublicKey, priv: PrivateKey): boolean {
  if (priv.p <= 1n || priv.q <= 1n || pub.e <= 0n || priv.d <= 0n) return false;
  if (priv.p * priv.q !== pub.n) return false;
  const lambda = lcm(priv.p - 1n, priv.q - 1n);
  return (pub.e * priv.d) % lambda === 1n % lambda;
}

/** Size of the modulus in bits (what people call the key size). */
export function modulusBits(n: bigint): number {
  return bitLength(n);
}

/** Hex digits of the fingerprint, shown in groups of four. */
const FINGERPRINT_HEX_DIGITS = 16;

/**
 * A short, stable label for showing a public key to people: the first 64 bits of the SHA-256 of
 * the canonical `"e n"` string (ASCII), as four colon-separated groups of four lowercase hex
 * digits, e.g. `3f2a:9c1b:07de:44aa`. A string that parses is canonicalised first (so the same
 * key always gets the same label); one that does not is hashed as trimmed, so this never throws.
 */
export function fingerprint(publicKey: string | PublicKey): string {
  let canonical: string;
  if (typeof publicKey === 'string') {
    const { key } = parsePublicKey(publicKey);
    canonical = key ? formatPublicKey(key) : publicKey.trim();
  } else {
    canonical = formatPublicKey(publicKey);
  }
  const hex = bytesToHex(sha256(new TextEncoder().encode(canonical))).slice(
    0,
    FINGERPRINT_HEX_DIGITS,
  );
  return hex.match(/.{4}/g)!.join(':');
}
