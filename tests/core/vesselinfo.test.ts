import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateConfig, type ResolvedConfig } from '../../src/core/build-config.ts';
import { nodeVessels, parseVesselinfo, renderVesselinfo } from '../../src/core/vesselinfo.ts';
import type { Problem } from '../../src/core/problems.ts';

const KEY_A = `65537 ${2n ** 2047n + 12345n}`;
const KEY_B = `3 ${2n ** 2047n + 999n}`;
const KEY_C = `7 ${2n ** 1500n + 1n}`;
const RESERVED = `${2n ** 1000n + 3n} ${2n ** 2047n + 1n}`;

const EXAMPLE: ResolvedConfig = {
  vessels: [
    { percentage: 60, owner: 'alex', users: ['bob'] },
    { percentage: 20, owner: 'carl', users: [] },
  ],
  publicKeys: { alex: KEY_A, bob: KEY_B, carl: KEY_C },
  reservedShare: 20,
  reservedKey: RESERVED,
};

function errors(problems: Problem[]): [string, string][] {
  return problems.filter((p) => p.severity === 'error').map((p) => [p.code, p.path]);
}

describe('renderVesselinfo', () => {
  it('writes the docs/formats.md#vesselinfo layout with the reserved vessel last and no trailing newline', () => {
    expect(renderVesselinfo(EXAMPLE)).toBe(
      [
        'Percent 60',
        `Owner ${KEY_A}`,
        `User ${KEY_B}`,
        'Percent 20',
        `Owner ${KEY_C}`,
        'Percent 20',
        `Owner ${RESERVED}`,
      ].join('\n'),
    );
  });

  it('de-duplicates users first-seen and keeps an owner who is also a user', () => {
    const text = renderVesselinfo({
      ...EXAMPLE,
      vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 'alex', 'bob'] }],
    });
    expect(text.split('\n')).toEqual([
      'Percent 80',
      `Owner ${KEY_A}`,
      `User ${KEY_B}`,
      `User ${KEY_A}`,
      'Percent 20',
      `Owner ${RESERVED}`,
    ]);
  });

  it('omits the reserved vessel when the reserved share is 0', () => {
    const text = renderVesselinfo({
      ...EXAMPLE,
      vessels: [{ percentage: 100, owner: 'alex', users: [] }],
      reservedShare: 0,
    });
    expect(text).toBe(`Percent 100\nOwner ${KEY_A}`);
  });

  it('refuses a user without a key', () => {
    expect(() => renderVesselinfo({ ...EXAMPLE, publicKeys: { alex: KEY_A } })).toThrow(/"bob"/);
  });
});

describe('parseVesselinfo', () => {
  it('reads what render writes, with or without one trailing newline', () => {
    const text = renderVesselinfo(EXAMPLE);
    const expected = [
      { percent: 60, owner: KEY_A, users: [KEY_B] },
      { percent: 20, owner: KEY_C, users: [] },
      { percent: 20, owner: RESERVED, users: [] },
    ];
    expect(parseVesselinfo(text)).toEqual({ vessels: expected, problems: [] });
    expect(parseVesselinfo(`${text}\n`)).toEqual({ vessels: expected, problems: [] });
  });

  const lines = (...l: string[]) => l.join('\n');
  const cases: [string, string, [string, string][]][] = [
    [
      'a blank line',
      lines('Percent 100', '', `Owner ${KEY_A}`),
      [['vesselinfo.line.blank', 'line 2']],
    ],
    [
      'two trailing newlines',
      lines('Percent 100', `Owner ${KEY_A}`, '', ''),
      [['vesselinfo.line.blank', 'line 3']],
    ],
    ['an empty file', '', [['vesselinfo.empty', 'line 1']]],
    [
      'a lower-case label',
      lines('percent 100', `Owner ${KEY_A}`),
      [['vesselinfo.line.label', 'line 1']],
    ],
    [
      'an unknown label',
      lines('Percent 100', `Owner ${KEY_A}`, 'Group x'),
      [['vesselinfo.line.label', 'line 3']],
    ],
    ['two spaces', lines('Percent  100', `Owner ${KEY_A}`), [['vesselinfo.line.format', 'line 1']]],
    [
      'a trailing space',
      lines('Percent 100', `Owner ${KEY_A} `),
      [['vesselinfo.line.format', 'line 2']],
    ],
    [
      'a CRLF line end',
      lines('Percent 100\r', `Owner ${KEY_A}`),
      [['vesselinfo.line.characters', 'line 1']],
    ],
    [
      'a 15% vessel',
      lines('Percent 15', `Owner ${KEY_A}`, 'Percent 85', `Owner ${KEY_B}`),
      [
        ['vesselinfo.percent.range', 'line 1'],
        ['vesselinfo.percent.range', 'line 3'],
      ],
    ],
    [
      'a 0% vessel',
      lines('Percent 0', `Owner ${KEY_A}`, 'Percent 100', `Owner ${KEY_B}`),
      [['vesselinfo.percent.range', 'line 1']],
    ],
    [
      'a percentage of 110',
      lines('Percent 110', `Owner ${KEY_A}`),
      [
        ['vesselinfo.percent.range', 'line 1'],
        ['vesselinfo.total', 'line 1'],
      ],
    ],
    [
      'a non-numeric percentage',
      lines('Percent 6O', `Owner ${KEY_A}`),
      [['vesselinfo.percent.invalid', 'line 1']],
    ],
    [
      'a total of 90',
      lines('Percent 60', `Owner ${KEY_A}`, 'Percent 30', `Owner ${KEY_B}`),
      [['vesselinfo.total', 'line 3']],
    ],
    [
      'a vessel without owner',
      lines('Percent 80', `User ${KEY_A}`, 'Percent 20', `Owner ${KEY_B}`),
      [['vesselinfo.owner.missing', 'line 1']],
    ],
    [
      'a second owner',
      lines('Percent 100', `Owner ${KEY_A}`, `Owner ${KEY_B}`),
      [['vesselinfo.owner.duplicate', 'line 3']],
    ],
    [
      'a User before any Percent',
      lines(`User ${KEY_A}`, 'Percent 100', `Owner ${KEY_B}`),
      [['vesselinfo.user.before-percent', 'line 1']],
    ],
    [
      'an invalid key',
      lines('Percent 100', 'Owner 5 3'),
      [['key.public.exponent-too-large', 'line 2']],
    ],
    [
      'a key with one number',
      lines('Percent 100', 'Owner 65537'),
      [['vesselinfo.line.format', 'line 2']],
    ],
    [
      'a key file name instead of a key',
      lines('Percent 100', 'Owner alex.publickey'),
      [['vesselinfo.line.format', 'line 2']],
    ],
  ];
  it.each(cases)('rejects %s with the line number', (_name, text, expected) => {
    expect(errors(parseVesselinfo(text).problems)).toEqual(expected);
  });

  it('accepts toy keys with a weak-key warning, as the node does', () => {
    const { vessels, problems } = parseVesselinfo('Percent 100\nOwner 12345 54321');
    expect(vessels).toEqual([{ percent: 100, owner: '12345 54321', users: [] }]);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'key.public.weak', path: 'line 2', severity: 'warning' }),
    ]);
  });
});

describe('nodeVessels', () => {
  it('names vessels v1… and gives each 10 ports per 10% (docs/formats.md#vesselinfo)', () => {
    const vessels = nodeVessels(parseVesselinfo(renderVesselinfo(EXAMPLE)).vessels);
    expect(vessels.map((v) => [v.name, v.percent, v.ports])).toEqual([
      ['v1', 60, [63100, 63159]],
      ['v2', 20, [63160, 63179]],
      ['v3', 20, [63180, 63199]],
    ]);
  });
});

// Property: every valid configuration survives render -> parse with names mapped to keys.
const NAME = fc.stringMatching(/^[0-9a-zA-Z][0-9a-zA-Z_]{2,10}$/);
const KEY = fc
  .tuple(fc.bigInt({ min: 1n, max: 2n ** 64n }), fc.bigInt({ min: 2n ** 1100n, max: 2n ** 2100n }))
  .map(([e, n]) => `${2n * e + 1n} ${2n * n + 1n}`); // odd, e > 1: an RSA-shaped key

/** Splits `steps` tens into between 1 and 8 vessels. */
function splitTens(steps: number, cuts: number[]): number[] {
  const points = [...new Set(cuts.map((c) => 1 + (c % Math.max(1, steps - 1))))]
    .filter((p) => p < steps)
    .sort((a, b) => a - b)
    .slice(0, 7);
  const bounds = [0, ...points, steps];
  return bounds.slice(1).map((b, i) => (b - (bounds[i] ?? 0)) * 10);
}

const RESOLVED: fc.Arbitrary<ResolvedConfig> = fc
  .record({
    reservedSteps: fc.integer({ min: 0, max: 9 }),
    cuts: fc.array(fc.nat(), { maxLength: 9 }),
    names: fc.uniqueArray(NAME, { minLength: 1, maxLength: 6, selector: (n) => n.toLowerCase() }),
    keys: fc.array(KEY, { minLength: 6, maxLength: 6 }),
    picks: fc.array(fc.tuple(fc.nat(), fc.array(fc.nat(), { maxLength: 4 })), {
      minLength: 8,
      maxLength: 8,
    }),
    reservedKey: KEY,
  })
  .map(({ reservedSteps, cuts, names, keys, picks, reservedKey }) => {
    const percentages = splitTens(10 - reservedSteps, cuts);
    const pick = (i: number) => names[i % names.length]!;
    const vessels = percentages.map((percentage, i) => {
      const [ownerIndex, userIndexes] = picks[i]!;
      return { percentage, owner: pick(ownerIndex), users: [...new Set(userIndexes.map(pick))] };
    });
    const used = [...new Set(vessels.flatMap((v) => [v.owner, ...v.users]))];
    return {
      vessels,
      publicKeys: Object.fromEntries(used.map((name, i) => [name, keys[i]!])),
      reservedShare: reservedSteps * 10,
      reservedKey,
    };
  });

describe('render/parse property', () => {
  it('parse(render(c)) gives back c’s vessels plus the reserved vessel, for every valid c', () => {
    fc.assert(
      fc.property(RESOLVED, (resolved) => {
        // The generator only makes configurations the one validation accepts.
        const user_data = Object.fromEntries(
          Object.entries(resolved.publicKeys).map(([n, k]) => [n, { public_key: k }]),
        );
        const settings = {
          reservedShare: resolved.reservedShare,
          reservedKey: resolved.reservedKey,
        };
        expect(validateConfig({ vessels: resolved.vessels, user_data }, settings).problems).toEqual(
          [],
        );

        const text = renderVesselinfo(resolved);
        expect(text.endsWith('\n')).toBe(false);
        const { vessels, problems } = parseVesselinfo(text);
        expect(problems).toEqual([]);
        const expected = resolved.vessels.map((v) => ({
          percent: v.percentage,
          owner: resolved.publicKeys[v.owner],
          users: v.users.map((u) => resolved.publicKeys[u]),
        }));
        if (resolved.reservedShare > 0) {
          expected.push({
            percent: resolved.reservedShare,
            owner: resolved.reservedKey,
            users: [],
          });
        }
        expect(vessels).toEqual(expected);
        const ports = nodeVessels(vessels).map((v) => v.ports);
        expect(ports[0]?.[0]).toBe(63100);
        expect(ports.at(-1)?.[1]).toBe(63199);
        ports.slice(1).forEach((p, i) => expect(p[0]).toBe(ports[i]![1] + 1));
      }),
      { numRuns: 200 },
    );
  });
});
