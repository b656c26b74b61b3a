import { describe, expect, it } from 'vitest';
import {
  checkUserNames,
  MAX_USERS_PER_BUILD,
  resolveConfig,
  userNamesOf,
  usersWithoutKeys,
  validateConfig,
  validateSettings,
  type ReservedSettings,
} from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { parsePrivateKey, parsePublicKey, privateKeyMatches } from '../../src/core/keys.ts';
import { CibError, errorsOf, type Problem } from '../../src/core/problems.ts';

// Keys only need to satisfy Seattle's rule (positive, e < n); a 2048-bit n avoids the weak warning.
const KEY_A = `65537 ${2n ** 2047n + 12345n}`;
const KEY_B = `3 ${2n ** 2047n + 999n}`;
const RESERVED = `17 ${2n ** 2047n + 1n}`;
const SETTINGS: ReservedSettings = { reservedShare: 20, reservedKey: RESERVED };

const fastGenerate = () => generateKeyPair(1024);

function codes(problems: Problem[]): string[] {
  return problems.map((p) => p.code);
}
function find(problems: Problem[], code: string): Problem | undefined {
  return problems.find((p) => p.code === code);
}

const VALID = {
  vessels: [
    { percentage: 60, owner: 'alex', users: ['bob'] },
    { percentage: 20, owner: 'carl', users: ['darren'] },
  ],
  user_data: { alex: { public_key: KEY_A }, darren: { public_key: KEY_B } },
};

describe('validateConfig', () => {
  it('accepts the docs/formats.md#build-configuration example and returns a clean copy', () => {
    const { config, problems } = validateConfig(VALID, SETTINGS);
    expect(problems).toEqual([]);
    expect(config).toEqual(VALID);
  });

  it('rejects input that is not an object', () => {
    for (const input of [null, [], 'vessels', 42]) {
      const { config, problems } = validateConfig(input, SETTINGS);
      expect(config).toBeUndefined();
      expect(codes(problems)).toEqual(['config.type']);
    }
  });

  it('requires a non-empty vessels array', () => {
    expect(codes(validateConfig({}, SETTINGS).problems)).toEqual(['config.vessels.missing']);
    expect(codes(validateConfig({ vessels: {} }, SETTINGS).problems)).toEqual([
      'config.vessels.type',
    ]);
    expect(codes(validateConfig({ vessels: [] }, SETTINGS).problems)).toEqual([
      'config.vessels.empty',
    ]);
  });

  it.each([
    ['"60"', '60', 'vessel.percentage.type'],
    ['true', true, 'vessel.percentage.type'],
    ['null', null, 'vessel.percentage.type'],
    ['60.5', 60.5, 'vessel.percentage.integer'],
    ['15', 15, 'vessel.percentage.step'],
    ['0', 0, 'vessel.percentage.range'],
    ['110', 110, 'vessel.percentage.range'],
    ['-10', -10, 'vessel.percentage.range'],
  ])('refuses a percentage of %s without coercing it', (_label, percentage, code) => {
    const input = { vessels: [{ percentage, owner: 'alex' }] };
    const { config, problems } = validateConfig(input, SETTINGS);
    expect(config).toBeUndefined();
    const found = find(problems, code);
    expect(found?.path).toBe('vessels[0].percentage');
    expect(found?.severity).toBe('error');
  });

  it('requires the percentage', () => {
    const { problems } = validateConfig({ vessels: [{ owner: 'alex' }] }, SETTINGS);
    expect(find(problems, 'vessel.percentage.missing')?.path).toBe('vessels[0].percentage');
  });

  it('requires the vessels to sum to 100 minus the reserved share and says both numbers', () => {
    const input = {
      vessels: [
        { percentage: 60, owner: 'alex' },
        { percentage: 40, owner: 'bob1' },
      ],
    };
    const { problems } = validateConfig(input, SETTINGS);
    expect(codes(problems)).toEqual(['config.vessels.total']);
    expect(problems[0]?.path).toBe('vessels');
    expect(problems[0]?.message).toContain('100%');
    expect(problems[0]?.message).toContain('exactly 80%');
  });

  it('uses the reserved share from the settings, not a constant', () => {
    const input = { vessels: [{ percentage: 100, owner: 'alex' }] };
    expect(validateConfig(input, { ...SETTINGS, reservedShare: 0 }).problems).toEqual([]);
    expect(codes(validateConfig(input, SETTINGS).problems)).toEqual(['config.vessels.total']);
    const seventy = { vessels: [{ percentage: 70, owner: 'alex' }] };
    expect(validateConfig(seventy, { ...SETTINGS, reservedShare: 30 }).problems).toEqual([]);
  });

  it('allows at most 8 user vessels', () => {
    const nine = Array.from({ length: 9 }, () => ({ percentage: 10, owner: 'alex' }));
    const { problems } = validateConfig({ vessels: nine }, SETTINGS);
    expect(find(problems, 'config.vessels.too-many')?.path).toBe('vessels');
    const eight = Array.from({ length: 8 }, () => ({ percentage: 10, owner: 'alex' }));
    expect(validateConfig({ vessels: eight }, SETTINGS).problems).toEqual([]);
  });

  it('requires an owner that is a valid user name', () => {
    const cases: [unknown, string][] = [
      [undefined, 'vessel.owner.missing'],
      [7, 'user.name.type'],
      [null, 'user.name.type'],
      ['al', 'user.name.invalid'],
      ['_alex', 'user.name.invalid'],
      ['al-ex', 'user.name.invalid'],
      ['a'.repeat(41), 'user.name.invalid'],
    ];
    for (const [owner, code] of cases) {
      const { problems } = validateConfig({ vessels: [{ percentage: 80, owner }] }, SETTINGS);
      expect(codes(problems)).toEqual([code]);
      expect(problems[0]?.path).toBe('vessels[0].owner');
    }
  });

  it('accepts names of 3 and 40 characters starting with a digit and containing _', () => {
    for (const owner of ['a_b', '1ab', 'A'.repeat(40), 'x_' + '9'.repeat(38)]) {
      expect(validateConfig({ vessels: [{ percentage: 80, owner }] }, SETTINGS).problems).toEqual(
        [],
      );
    }
  });

  it('checks users is an array of valid names, each with its own path', () => {
    const bad = validateConfig(
      { vessels: [{ percentage: 80, owner: 'alex', users: 'bob' }] },
      SETTINGS,
    );
    expect(find(bad.problems, 'vessel.users.type')?.path).toBe('vessels[0].users');
    const { problems } = validateConfig(
      { vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 3, 'x y', 'carl'] }] },
      SETTINGS,
    );
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['user.name.type', 'vessels[0].users[1]'],
      ['user.name.invalid', 'vessels[0].users[2]'],
    ]);
  });

  it('returns every problem at once', () => {
    const input = {
      vessels: [
        { percentage: '60', owner: 'alex' },
        { percentage: 15, users: ['ok_name', 'no'] },
      ],
      user_data: { bob: { public_key: 'INVALID' } },
    };
    const { problems } = validateConfig(input, SETTINGS);
    expect(problems.map((p) => [p.code, p.path])).toEqual(
      expect.arrayContaining([
        ['vessel.percentage.type', 'vessels[0].percentage'],
        ['vessel.percentage.step', 'vessels[1].percentage'],
        ['vessel.owner.missing', 'vessels[1].owner'],
        ['user.name.invalid', 'vessels[1].users[1]'],
        [expect.stringMatching(/^key\.public\./), 'user_data.bob.public_key'],
      ]),
    );
  });

  it('carries key errors and the weak-key warning through with the field path', () => {
    const bad = validateConfig({ ...VALID, user_data: { alex: { public_key: '5 3' } } }, SETTINGS);
    expect(bad.config).toBeUndefined();
    expect(errorsOf(bad.problems)[0]?.path).toBe('user_data.alex.public_key');

    const weak = validateConfig(
      { ...VALID, user_data: { alex: { public_key: '12345 54321' } } },
      SETTINGS,
    );
    expect(weak.config).toBeDefined();
    expect(weak.problems).toEqual([
      expect.objectContaining({
        code: 'key.public.weak',
        path: 'user_data.alex.public_key',
        severity: 'warning',
      }),
    ]);
  });

  it('checks the shape of user_data entries without coercing', () => {
    const cases: [unknown, string, string][] = [
      [[], 'config.user-data.type', 'user_data'],
      [{ alex: 'key' }, 'user-data.entry.type', 'user_data.alex'],
      [{ alex: { public_key: 65537 } }, 'user-data.public-key.type', 'user_data.alex.public_key'],
      [{ 'b@d': {} }, 'user.name.invalid', 'user_data.b@d'],
    ];
    for (const [user_data, code, path] of cases) {
      const { problems } = validateConfig({ vessels: VALID.vessels, user_data }, SETTINGS);
      expect(find(problems, code)?.path).toBe(path);
    }
  });

  it('treats names differing only in case as duplicates', () => {
    const inUserData = validateConfig(
      { vessels: [{ percentage: 80, owner: 'alex' }], user_data: { alex: {}, Alex: {} } },
      SETTINGS,
    );
    expect(find(inUserData.problems, 'user.name.duplicate')?.path).toBe('user_data.Alex');

    const inVessels = validateConfig(
      { vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 'alex', 'ALEX'] }] },
      SETTINGS,
    );
    expect(inVessels.problems.map((p) => [p.code, p.path])).toEqual([
      ['user.name.duplicate', 'vessels[0].users[2]'],
    ]);

    const across = validateConfig(
      { vessels: [{ percentage: 80, owner: 'Bob' }], user_data: { bob: { public_key: KEY_A } } },
      SETTINGS,
    );
    expect(find(across.problems, 'user.name.duplicate')?.path).toBe('vessels[0].owner');
  });

  it('lets a name be used in several vessels and repeated in users', () => {
    const input = {
      vessels: [
        { percentage: 40, owner: 'alex', users: ['bob', 'bob', 'alex'] },
        { percentage: 40, owner: 'bob', users: ['alex'] },
      ],
    };
    expect(validateConfig(input, SETTINGS).problems).toEqual([]);
  });

  it('warns about unknown fields and unused user_data, and leaves them out of the copy', () => {
    const input = {
      vessels: [{ percentage: 80, owner: 'alex', precentage: 80 }],
      user_data: { alex: { public_key: KEY_A, email: 'a@b' }, zoe: {} },
      extra: 1,
    };
    const { config, problems } = validateConfig(input, SETTINGS);
    expect(problems.every((p) => p.severity === 'warning')).toBe(true);
    expect(problems.map((p) => [p.code, p.path])).toEqual(
      expect.arrayContaining([
        ['config.field.unknown', 'extra'],
        ['config.field.unknown', 'vessels[0].precentage'],
        ['config.field.unknown', 'user_data.alex.email'],
        ['user-data.unused', 'user_data.zoe'],
      ]),
    );
    expect(config).toEqual({
      vessels: [{ percentage: 80, owner: 'alex' }],
      user_data: { alex: { public_key: KEY_A }, zoe: {} },
    });
  });

  it('reports broken settings with settings.* codes', () => {
    const { problems } = validateConfig(VALID, { reservedShare: 25, reservedKey: 'nope' });
    expect(problems.map((p) => [p.code, p.path])).toEqual(
      expect.arrayContaining([
        ['settings.reserved-share.invalid', 'settings.reservedShare'],
        ['settings.reserved-key.invalid', 'settings.reservedKey'],
      ]),
    );
    expect(validateSettings({ reservedShare: 100, reservedKey: RESERVED })[0]?.code).toBe(
      'settings.reserved-share.invalid',
    );
    expect(validateSettings({ reservedShare: 0, reservedKey: RESERVED })).toEqual([]);
    expect(validateSettings({ reservedShare: 90, reservedKey: RESERVED })).toEqual([]);
  });
});

describe('checkUserNames', () => {
  it('flags invalid names and case-insensitive duplicates with the given paths', () => {
    const problems = checkUserNames(['alex', 'bob', 'Alex', 'x', 'bob']);
    expect(problems.map((p) => [p.code, p.path])).toEqual([
      ['user.name.duplicate', 'users[2]'],
      ['user.name.invalid', 'users[3]'],
      ['user.name.duplicate', 'users[4]'],
    ]);
    expect(problems[0]?.message).toContain('"alex"');
    expect(checkUserNames(['a1c', 'b_2'], (i) => `row ${i + 1}`)).toEqual([]);
  });
});

describe('hostile sizes', () => {
  /** n distinct three-character names (a00, a01, …), as a 600 KB call can carry 40,000 of. */
  function names(n: number, prefix = ''): string[] {
    const digits = 'abcdefghijklmnopqrstuvwxyz0123456789';
    return Array.from(
      { length: n },
      (_, i) =>
        `${prefix}${digits[Math.floor(i / 1296) % 26]}${digits[Math.floor(i / 36) % 36]}${digits[i % 36]}${i >= 33696 ? i : ''}`,
    );
  }

  it(`refuses more than ${MAX_USERS_PER_BUILD} distinct users, naming the field`, () => {
    const ok = names(MAX_USERS_PER_BUILD - 1);
    const atCap = validateConfig(
      { vessels: [{ percentage: 80, owner: 'owner', users: ok }] },
      SETTINGS,
    );
    expect(errorsOf(atCap.problems)).toEqual([]);
    const over = validateConfig(
      { vessels: [{ percentage: 80, owner: 'owner', users: names(MAX_USERS_PER_BUILD) }] },
      SETTINGS,
    );
    expect(errorsOf(over.problems)).toEqual([
      {
        code: 'config.users.too-many',
        path: 'vessels',
        message: `The build names ${MAX_USERS_PER_BUILD + 1} different users; a build has at most ${MAX_USERS_PER_BUILD}.`,
        severity: 'error',
      },
    ]);
    const userData = Object.fromEntries(names(150).map((n) => [n, {}]));
    const viaUserData = validateConfig(
      { vessels: [{ percentage: 80, owner: 'aaa' }], user_data: userData },
      SETTINGS,
    );
    expect(find(viaUserData.problems, 'config.users.too-many')?.path).toBe('user_data');
  });

  it('counts names that differ only in case once, and still reports them as duplicates', () => {
    const users = names(60);
    const result = validateConfig(
      {
        vessels: [
          { percentage: 40, owner: 'owner', users },
          { percentage: 40, owner: 'Owner', users: users.map((u) => u.toUpperCase()) },
        ],
      },
      SETTINGS,
    );
    expect(find(result.problems, 'config.users.too-many')).toBeUndefined();
    expect(result.problems.filter((p) => p.code === 'user.name.duplicate')).toHaveLength(61);
  });

  it('checks 40,000 names, valid or not, and every problem is found', () => {
    const many = names(40_000);
    const result = validateConfig(
      {
        vessels: [{ percentage: 80, owner: 'owner', users: many }],
        user_data: Object.fromEntries(many.map((n) => [n.toUpperCase(), {}])),
      },
      SETTINGS,
    );
    const byCode = new Map<string, number>();
    for (const p of result.problems) byCode.set(p.code, (byCode.get(p.code) ?? 0) + 1);
    expect(byCode.get('config.users.too-many')).toBe(1);
    // Every vessel name collides, ignoring case, with its user_data spelling.
    expect(byCode.get('user.name.duplicate')).toBe(40_000);
    expect(
      userNamesOf([{ percentage: 80, owner: 'owner', users: [...many, ...many] }]),
    ).toHaveLength(40_001);
  });

  it('quotes at most 60 characters of a long name back', () => {
    const long = 'x'.repeat(100_000);
    const [bad] = checkUserNames([long]);
    expect(bad?.message).toBe(
      `The user name "${'x'.repeat(60)}…" is not valid: it has 100000 characters; a user name has 3 to 40.`,
    );
  });
});

describe('resolveConfig', () => {
  it('generates real key pairs only for users without a public key and returns them apart', async () => {
    const config = validateConfig(VALID, SETTINGS).config!;
    expect(usersWithoutKeys(config)).toEqual(['bob', 'carl']);
    const { resolved, generated } = await resolveConfig(config, SETTINGS, {
      generate: fastGenerate,
    });
    expect(Object.keys(generated).sort()).toEqual(['bob', 'carl']);
    expect(Object.keys(resolved.publicKeys)).toEqual(['alex', 'bob', 'carl', 'darren']);
    expect(resolved.publicKeys.alex).toBe(KEY_A);
    for (const name of ['bob', 'carl']) {
      const pair = generated[name]!;
      expect(resolved.publicKeys[name]).toBe(pair.publicKey);
      const pub = parsePublicKey(pair.publicKey).key!;
      const priv = parsePrivateKey(pair.privateKey).key!;
      expect(privateKeyMatches(pub, priv)).toBe(true);
      // Encrypt-then-decrypt with the generated numbers: the pair really is an RSA key.
      const m = 123456789n;
      const modPow = (b: bigint, e: bigint, n: bigint) => {
        let r = 1n;
        for (b %= n; e > 0n; e >>= 1n, b = (b * b) % n) if (e & 1n) r = (r * b) % n;
        return r;
      };
      expect(modPow(modPow(m, pub.e, pub.n), priv.d, pub.n)).toBe(m);
    }
    expect(JSON.stringify(resolved)).not.toContain(generated.bob!.privateKey);
    expect(resolved.reservedShare).toBe(20);
    expect(resolved.reservedKey).toBe(RESERVED);
  });

  it('generates a key for a user_data entry without public_key, with the requested size', async () => {
    const bitsSeen: number[] = [];
    const { generated } = await resolveConfig(
      { vessels: [{ percentage: 80, owner: 'alex' }], user_data: { alex: {} } },
      SETTINGS,
      { keyBits: 1024, generate: (bits) => (bitsSeen.push(bits), generateKeyPair(bits)) },
    );
    expect(Object.keys(generated)).toEqual(['alex']);
    expect(bitsSeen).toEqual([1024]);
  });

  it('de-duplicates users first-seen, canonicalises keys and drops unused user_data', async () => {
    const { resolved, generated } = await resolveConfig(
      {
        vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 'alex', 'bob'] }],
        user_data: {
          alex: { public_key: `  ${KEY_A}\n` },
          bob: { public_key: KEY_B },
          zoe: { public_key: KEY_B },
        },
      },
      { reservedShare: 20, reservedKey: ` ${RESERVED} ` },
    );
    expect(generated).toEqual({});
    expect(resolved).toEqual({
      vessels: [{ percentage: 80, owner: 'alex', users: ['bob', 'alex'] }],
      publicKeys: { alex: KEY_A, bob: KEY_B },
      reservedShare: 20,
      reservedKey: RESERVED,
    });
  });

  it('throws a CibError with every error for an invalid configuration', async () => {
    const bad = { vessels: [{ percentage: 15, owner: 'x' }] } as never;
    const error = await resolveConfig(bad, SETTINGS, { generate: fastGenerate }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CibError);
    expect(codes((error as CibError).problems)).toEqual(
      expect.arrayContaining([
        'vessel.percentage.step',
        'user.name.invalid',
        'config.vessels.total',
      ]),
    );
  });
});
