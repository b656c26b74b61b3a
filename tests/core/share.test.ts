import { deflateSync } from 'fflate';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildId } from '../../src/core/buildid.ts';
import { resolveConfig, type ResolvedConfig } from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { decodeShare, encodeShare } from '../../src/core/share.ts';

const KEY_A = `65537 ${2n ** 2047n + 12345n}`;
const KEY_B = `3 ${2n ** 2047n + 999n}`;
const RESERVED = `17 ${2n ** 2047n + 1n}`;

const SETTINGS = { reservedShare: 20, reservedKey: RESERVED };

const BASE: ResolvedConfig = {
  vessels: [
    { percentage: 60, owner: 'alex', users: ['bob'] },
    { percentage: 20, owner: 'bob', users: [] },
  ],
  publicKeys: { alex: KEY_A, bob: KEY_B },
  reservedShare: 20,
  reservedKey: RESERVED,
};

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
/** A share string around an arbitrary JSON payload, as a tampered link would carry it. */
function shareOf(payload: unknown): string {
  return `1.${b64url(deflateSync(new TextEncoder().encode(JSON.stringify(payload))))}`;
}

describe('share codec', () => {
  it('round-trips a configuration into a URL-safe string starting with the version', () => {
    const text = encodeShare(BASE);
    expect(text).toMatch(/^1\.[A-Za-z0-9_-]+$/);
    expect(decodeShare(text, SETTINGS)).toEqual({ resolved: BASE, problems: [] });
    expect(buildId(decodeShare(text, SETTINGS).resolved!)).toBe(buildId(BASE));
  });

  it('leaves the reserved vessel out of the link: the decoding builder supplies its own', () => {
    const elsewhere = { reservedShare: 30, reservedKey: KEY_B };
    const text = encodeShare({ ...BASE, vessels: [{ percentage: 70, owner: 'alex', users: [] }] });
    expect(encodeShare({ ...BASE, reservedKey: KEY_A })).toBe(encodeShare(BASE));
    const decoded = decodeShare(text, elsewhere);
    expect(decoded.problems).toEqual([]);
    expect(decoded.resolved).toMatchObject({ reservedShare: 30, reservedKey: KEY_B });
    // A link whose vessels do not fit this builder's user share says so.
    expect(decodeShare(encodeShare(BASE), elsewhere).problems.map((p) => p.code)).toContain(
      'share.config.vessels.total',
    );
  });

  it('is decoded with the standard base64url and raw-deflate tools', async () => {
    const { inflateRawSync } = await import('node:zlib');
    const text = encodeShare(BASE);
    const json = JSON.parse(
      inflateRawSync(Buffer.from(text.slice(2), 'base64url')).toString('utf8'),
    );
    expect(json).toEqual({
      v: [
        [60, 'alex', ['bob']],
        [20, 'bob', []],
      ],
      k: { alex: KEY_A, bob: KEY_B },
    });
  });

  it('keeps a typical 2-user build with 2048-bit keys short enough for a link and a QR code', async () => {
    const { resolved } = await resolveConfig(
      { vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }] },
      { reservedShare: 20, reservedKey: RESERVED },
      { generate: () => generateKeyPair(2048) },
    );
    const text = encodeShare(resolved);
    expect(decodeShare(text, SETTINGS).resolved).toEqual(resolved);
    // Two 617-digit moduli cannot fit in fewer characters than this.
    expect(text.length).toBeGreaterThan(700);
    expect(text.length).toBeLessThan(1000);
  });

  const garbage: [string, string, string][] = [
    ['an empty string', '', 'share.format'],
    ['a URL', 'https://example.org/', 'share.format'],
    ['an unknown version', '2.abc', 'share.version'],
    ['characters outside base64url', '1.ab+c/==', 'share.base64'],
    ['an impossible length', '1.abcde', 'share.base64'],
    [
      'bytes that are not deflate',
      `1.${b64url(new Uint8Array([0xff, 0xff, 0xff, 0xff]))}`,
      'share.deflate',
    ],
    ['a truncated link', encodeShare(BASE).slice(0, 300), 'share.deflate'],
    [
      'deflated text that is not JSON',
      `1.${b64url(deflateSync(new TextEncoder().encode('{nope')))}`,
      'share.json',
    ],
    ['JSON of the wrong shape', shareOf({ vessels: [] }), 'share.shape'],
    [
      'a percentage as a string',
      shareOf({ v: [['80', 'alex', []]], k: { alex: KEY_A } }),
      'share.shape',
    ],
    ['a too long string', `1.${'A'.repeat(70_000)}`, 'share.too-long'],
  ];
  it.each(garbage)('turns %s into a share.* problem, never an exception', (_name, text, code) => {
    const { resolved, problems } = decodeShare(text, SETTINGS);
    expect(resolved).toBeUndefined();
    expect(problems.map((p) => p.code)).toEqual([code]);
    expect(problems[0]?.message).toMatch(/\w/);
  });

  it('refuses a payload that inflates past the limit', () => {
    const bomb = `1.${b64url(deflateSync(new Uint8Array(2_000_000).fill(0x20)))}`;
    expect(decodeShare(bomb, SETTINGS).problems.map((p) => p.code)).toEqual(['share.too-large']);
  });

  it('re-runs every configuration rule on the decoded content', () => {
    const cases: [unknown, string, string][] = [
      [{ v: [[70, 'alex', []]], k: { alex: KEY_A } }, 'share.config.vessels.total', 'vessels'],
      [
        { v: [[80, 'alex', []]], k: { alex: 'INVALID' } },
        'share.key.public.fields',
        'user_data.alex.public_key',
      ],
      [{ v: [[80, 'x', []]], k: { x: KEY_A } }, 'share.user.name.invalid', 'vessels[0].owner'],
      [{ v: [[80, 'alex', ['bob']]], k: { alex: KEY_A } }, 'share.key.missing', 'user_data.bob'],
    ];
    for (const [payload, code, path] of cases) {
      const { resolved, problems } = decodeShare(shareOf(payload), SETTINGS);
      expect(resolved).toBeUndefined();
      expect(problems.map((p) => [p.code, p.path])).toContainEqual([code, path]);
      expect(problems.every((p) => p.code.startsWith('share.'))).toBe(true);
    }
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `1.${s}`),
        ),
        (text) => {
          const { resolved, problems } = decodeShare(text, SETTINGS);
          expect(resolved === undefined).toBe(problems.length > 0);
          for (const p of problems) expect(p.code).toMatch(/^share\./);
        },
      ),
      { numRuns: 500 },
    );
  });

  const PROTOTYPE_NAMES = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];

  it('treats constructor, toString and valueOf as ordinary user names', () => {
    for (const name of ['constructor', 'toString', 'valueOf']) {
      const config: ResolvedConfig = {
        ...BASE,
        vessels: [{ percentage: 80, owner: name, users: ['alex'] }],
        publicKeys: { [name]: KEY_B, alex: KEY_A },
      };
      const { resolved, problems } = decodeShare(encodeShare(config), SETTINGS);
      expect(problems).toEqual([]);
      expect(resolved).toEqual(config);
    }
  });

  it('reports a missing key for a user named like an Object.prototype member', () => {
    for (const name of ['constructor', 'toString', 'valueOf']) {
      const payload = { v: [[80, name, []]], k: {} };
      const { resolved, problems } = decodeShare(shareOf(payload), SETTINGS);
      expect(resolved).toBeUndefined();
      expect(problems.map((p) => [p.code, p.path])).toContainEqual([
        'share.key.missing',
        `user_data.${name}`,
      ]);
    }
  });

  it('never throws on arbitrary payloads, whatever the names and keys', () => {
    const name = fc.oneof(fc.constantFrom(...PROTOTYPE_NAMES, 'alex'), fc.string());
    const key = fc.oneof(fc.constantFrom(KEY_A, KEY_B, '1 3233', '', '17 3234'), fc.string());
    const payload = fc.oneof(
      fc.record({
        v: fc.array(fc.tuple(fc.integer({ min: -10, max: 110 }), name, fc.array(name)), {
          maxLength: 9,
        }),
        k: fc.dictionary(name, key),
      }),
      fc.jsonValue(),
    );
    fc.assert(
      fc.property(payload, (value) => {
        const { resolved, problems } = decodeShare(shareOf(value), SETTINGS);
        expect(resolved === undefined).toBe(errorsOfCount(problems) > 0);
        for (const p of problems) expect(p.code).toMatch(/^share\./);
      }),
      { numRuns: 500 },
    );
  });
});

function errorsOfCount(problems: { severity: string }[]): number {
  return problems.filter((p) => p.severity === 'error').length;
}
