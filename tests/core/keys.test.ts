import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEATTLE_RESERVED_KEY } from '../../src/core/seattle-keys.ts';
import { RESERVED_KEY_FIXTURE } from '../support/tools.ts';
import {
  fingerprint,
  formatPrivateKey,
  formatPublicKey,
  modulusBits,
  parsePrivateKey,
  parsePublicKey,
  privateKeyMatches,
} from '../../src/core/keys.ts';
import { gcd, lcm, modPow, bytesToBigInt, bitLength } from '../../src/core/bigint.ts';
import { base64ToBytes, base64UrlToBytes } from '../../src/core/bytes.ts';
import { canonicalPublicKey } from '../../src/core/build-config.ts';

const reservedKey = RESERVED_KEY_FIXTURE;
describe('the shipped Seattle reserved key', () => {
  it('is the key the public Seattle service used for the reserved vessel', () => {
    expect(SEATTLE_RESERVED_KEY).toBe(RESERVED_KEY_FIXTURE);
  });
});

const codes = (text: string) => parsePublicKey(text, 'k').problems.map((p) => p.code);

// The textbook RSA example: p = 61, q = 53, n = 3233, e = 17, d = 2753.
const TOY_PUBLIC = { e: 17n, n: 3233n };
const TOY_PRIVATE = { d: 2753n, p: 61n, q: 53n };

describe('parsePublicKey', () => {
  it('reads the reserved key, whose e is a 308-digit number, exactly', () => {
    const [eText, nText] = reservedKey.trim().split(' ') as [string, string];
    expect(eText).toHaveLength(308);
    const { key, problems } = parsePublicKey(reservedKey);
    expect(problems).toEqual([]);
    expect(key!.e).toBe(BigInt(eText));
    expect(key!.n).toBe(BigInt(nText));
    expect(key!.e).not.toBe(65537n);
    expect(formatPublicKey(key!)).toBe(reservedKey.trim());
    expect(modulusBits(key!.n)).toBe(4090); // Python: n.bit_length();
  });

  it('trims whitespace and newlines around the whole string', () => {
    const { key, problems } = parsePublicKey('  \n17 3233\n');
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(key).toEqual(TOY_PUBLIC);
  });

  it("accepts the old service's toy key 12345 54321 with a weak-key warning", () => {
    const { key, problems } = parsePublicKey('12345 54321', 'user_data.alex.public_key');
    expect(key).toEqual({ e: 12345n, n: 54321n });
    expect(problems).toEqual([
      expect.objectContaining({
        code: 'key.public.weak',
        severity: 'warning',
        path: 'user_data.alex.public_key',
      }),
    ]);
    expect(problems[0]!.message).toContain('16-bit');
  });

  it('warns below 1024 bits and not at 1024 bits', () => {
    const n1023 = (1n << 1022n) + 1n;
    const n1024 = (1n << 1023n) + 1n;
    expect(codes(`3 ${n1023}`)).toEqual(['key.public.weak']);
    expect(codes(`3 ${n1024}`)).toEqual([]);
  });

  it.each([
    ['', 'key.public.empty'],
    ['   ', 'key.public.empty'],
    ['17', 'key.public.fields'],
    ['17 3233 99', 'key.public.fields'],
    ['17  3233', 'key.public.separator'],
    ['17\t3233', 'key.public.separator'],
    ['17\n3233', 'key.public.separator'],
    ['+17 3233', 'key.public.not-decimal'],
    ['-17 3233', 'key.public.not-decimal'],
    ['17 -3233', 'key.public.not-decimal'],
    ['0x11 3233', 'key.public.not-decimal'],
    ['17 0xca1', 'key.public.not-decimal'],
    ['1e3 3233', 'key.public.not-decimal'],
    ['17.0 3233', 'key.public.not-decimal'],
    ['17 3233n', 'key.public.not-decimal'],
    ['0 3233', 'key.public.not-positive'],
    ['17 0', 'key.public.not-positive'],
    ['3233 3233', 'key.public.exponent-too-large'],
    ['3233 17', 'key.public.exponent-too-large'],
    [`17 ${'9'.repeat(10_001)}`, 'key.public.too-long'],
  ])('rejects %j with %s and returns no key', (text, code) => {
    const { key, problems } = parsePublicKey(text, 'user_data.bob.public_key');
    expect(key).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      code,
      severity: 'error',
      path: 'user_data.bob.public_key',
    });
    expect(problems[0]!.message.length).toBeGreaterThan(20);
  });

  it('round-trips every e < n through format and parse', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1n << 2100n }),
        fc.bigInt({ min: 1n, max: 1n << 2100n }),
        (a, b) => {
          fc.pre(a !== b);
          const key = a < b ? { e: a, n: b } : { e: b, n: a };
          const text = formatPublicKey(key);
          expect(text).toMatch(/^[1-9][0-9]* [1-9][0-9]*$/);
          expect(parsePublicKey(text, '', { unusable: 'warning' }).key).toEqual(key);
        },
      ),
    );
  });
});

describe('parsePrivateKey', () => {
  it('reads "d p q" and formats it back', () => {
    const { key, problems } = parsePrivateKey(' 2753 61 53\n');
    expect(problems).toEqual([]);
    expect(key).toEqual(TOY_PRIVATE);
    expect(formatPrivateKey(key!)).toBe('2753 61 53');
  });

  it.each([
    ['', 'key.private.empty'],
    ['2753 61', 'key.private.fields'],
    ['2753 61 53 1', 'key.private.fields'],
    ['2753  61 53', 'key.private.separator'],
    ['2753 -61 53', 'key.private.not-decimal'],
    ['2753 0 53', 'key.private.not-positive'],
  ])('rejects %j with %s', (text, code) => {
    const { key, problems } = parsePrivateKey(text, 'alex.privatekey');
    expect(key).toBeUndefined();
    expect(problems.map((p) => [p.code, p.path])).toEqual([[code, 'alex.privatekey']]);
  });
});

describe('privateKeyMatches', () => {
  it('accepts the matching textbook pair', () => {
    expect(privateKeyMatches(TOY_PUBLIC, TOY_PRIVATE)).toBe(true);
  });

  it('accepts d reduced modulo lcm(p-1, q-1) as well as modulo (p-1)(q-1)', () => {
    const lambda = lcm(60n, 52n);
    const d = 413n; // 17 · 413 = 9 · 780 + 1
    expect((17n * d) % lambda).toBe(1n);
    expect(privateKeyMatches(TOY_PUBLIC, { ...TOY_PRIVATE, d })).toBe(true);
  });

  it('rejects a wrong d, a wrong factor, swapped roles and a different modulus', () => {
    expect(privateKeyMatches(TOY_PUBLIC, { ...TOY_PRIVATE, d: 2752n })).toBe(false);
    expect(privateKeyMatches(TOY_PUBLIC, { ...TOY_PRIVATE, p: 59n })).toBe(false);
    expect(privateKeyMatches({ e: 17n, n: 3233n * 7n }, TOY_PRIVATE)).toBe(false);
    expect(privateKeyMatches(TOY_PUBLIC, { d: 2753n, p: 3233n, q: 1n })).toBe(false);
  });
});

describe('fingerprint', () => {
  it('is the first 64 bits of SHA-256 of the canonical "e n", in four colon-separated groups', () => {
    const digest = createHash('sha256').update('17 3233').digest('hex');
    const expected = [0, 4, 8, 12].map((i) => digest.slice(i, i + 4)).join(':');
    expect(fingerprint('17 3233')).toBe(expected);
    expect(fingerprint(TOY_PUBLIC)).toBe(expected);
    expect(fingerprint('  17 3233\n')).toBe(expected);
    expect(fingerprint('017 3233')).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
  });

  it('tells different keys apart and never throws on text that is not a key', () => {
    expect(fingerprint(reservedKey)).not.toBe(fingerprint('17 3233'));
    expect(fingerprint('not a key')).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
  });
});

describe('bigint helpers', () => {
  it('computes modular powers, gcd and lcm', () => {
    expect(modPow(65n, 17n, 3233n)).toBe(2790n);
    expect(modPow(2790n, 2753n, 3233n)).toBe(65n);
    expect(modPow(-1n, 3n, 7n)).toBe(6n);
    expect(gcd(60n, 52n)).toBe(4n);
    expect(lcm(60n, 52n)).toBe(780n);
  });

  it('reads big-endian bytes as an integer', () => {
    expect(bytesToBigInt(new Uint8Array([0x01, 0x00, 0x01]))).toBe(65537n);
    expect(bytesToBigInt(new Uint8Array([]))).toBe(0n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 600n }), (n) => {
        const hex = n.toString(16);
        expect(bytesToBigInt(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'))).toBe(n);
      }),
    );
  });

  it('decodes base64 and base64url strictly, matching Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        expect(base64ToBytes(buffer.toString('base64'))).toEqual(new Uint8Array(bytes));
        expect(base64UrlToBytes(buffer.toString('base64url'))).toEqual(new Uint8Array(bytes));
      }),
    );
    expect(base64ToBytes('AQAB')).toEqual(new Uint8Array([1, 0, 1]));
    expect(base64ToBytes('AQ A')).toBeUndefined();
    expect(base64ToBytes('A')).toBeUndefined();
    expect(base64ToBytes('AQ=')).toBeUndefined();
    expect(base64ToBytes('-_8')).toBeUndefined();
    expect(base64UrlToBytes('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
  });
});

describe('canonical key strings and bit lengths without decimal round trips', () => {
  it('canonicalPublicKey gives exactly formatPublicKey of the parsed key, leading zeros and all', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 2n ** 2100n }),
        fc.bigInt({ min: 1n, max: 2n ** 2100n }),
        fc.nat({ max: 3 }),
        fc.nat({ max: 3 }),
        (a, b, zerosE, zerosN) => {
          // Odd, e above 1: keys no RSA key can be are refused (tested on their own).
          const [e, n] = a < b ? [2n * a + 1n, 2n * b + 1n] : [2n * b + 1n, 2n * a + 3n];
          const text = ` ${'0'.repeat(zerosE)}${e} ${'0'.repeat(zerosN)}${n}\n`;
          const parsed = parsePublicKey(text);
          expect(canonicalPublicKey(text, 'k')).toBe(formatPublicKey(parsed.key!));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('bitLength agrees with the binary string length for every size', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 4200n }), (n) => {
        expect(bitLength(n)).toBe(n === 0n ? 0 : n.toString(2).length);
      }),
      { numRuns: 500 },
    );
    for (let k = 0; k < 70; k++) expect(bitLength(2n ** BigInt(k))).toBe(k + 1);
  });
});

describe('keys no RSA key can be', () => {
  it.each([
    ['1 3233', 'key.public.exponent-one'],
    ['4 3233', 'key.public.exponent-even'],
    ['65536 3233001', 'key.public.exponent-even'],
    ['17 3234', 'key.public.modulus-even'],
  ])('refuses "%s" with %s, naming the field', (text, code) => {
    const parsed = parsePublicKey(text, 'user_data.alex.public_key');
    expect(parsed.key).toBeUndefined();
    expect(parsed.problems).toMatchObject([
      { code, path: 'user_data.alex.public_key', severity: 'error' },
    ]);
  });

  it('reports an even e and an even n together', () => {
    expect(codes('4 3234')).toEqual(['key.public.exponent-even', 'key.public.modulus-even']);
  });

  it('keeps the weak-size warning alone for small odd keys', () => {
    expect(codes('17 3233')).toEqual(['key.public.weak']);
    expect(codes('3 3233')).toEqual(['key.public.weak']);
  });

  it('only warns when reading as the node does, which accepts them', () => {
    const parsed = parsePublicKey('1 3233', 'line 2', { unusable: 'warning' });
    expect(parsed.key).toEqual({ e: 1n, n: 3233n });
    expect(parsed.problems.map((p) => [p.code, p.severity])).toEqual([
      ['key.public.exponent-one', 'warning'],
      ['key.public.weak', 'warning'],
    ]);
  });
});
