import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { BUILD_ID_PATTERN, buildId, buildIdInput, canonicalJson } from '../../src/core/buildid.ts';
import { resolveConfig, type ResolvedConfig } from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { sha1Hex } from '../../src/host/hash.ts';

const KEY_A = `65537 ${2n ** 2047n + 12345n}`;
const KEY_B = `3 ${2n ** 2047n + 999n}`;
const RESERVED = `17 ${2n ** 2047n + 1n}`;

const BASE: ResolvedConfig = {
  vessels: [
    { percentage: 60, owner: 'alex', users: ['bob'] },
    { percentage: 20, owner: 'bob', users: [] },
  ],
  publicKeys: { alex: KEY_A, bob: KEY_B },
  reservedShare: 20,
  reservedKey: RESERVED,
};

describe('buildId', () => {
  it('is 40 lowercase hex digits: the SHA-1 of the canonical serialisation', () => {
    const id = buildId(BASE);
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(id).toMatch(BUILD_ID_PATTERN);
    expect(id).toBe(bytesToHex(sha1(new TextEncoder().encode(buildIdInput(BASE)))));
    // The server's native SHA-1 gives the same id.
    expect(buildId(BASE, sha1Hex)).toBe(id);
    expect(buildIdInput(BASE)).toBe(
      `{"publicKeys":{"alex":"${KEY_A}","bob":"${KEY_B}"},"reservedKey":"${RESERVED}","reservedShare":20,` +
        `"vessels":[{"owner":"alex","percentage":60,"users":["bob"]},{"owner":"bob","percentage":20,"users":[]}]}`,
    );
  });

  it('gives equal configurations equal ids whatever the key order of the objects', () => {
    const reordered: ResolvedConfig = {
      reservedKey: RESERVED,
      reservedShare: 20,
      publicKeys: { bob: KEY_B, alex: KEY_A },
      vessels: [
        { users: ['bob'], owner: 'alex', percentage: 60 },
        { users: [], percentage: 20, owner: 'bob' },
      ],
    };
    expect(buildId(reordered)).toBe(buildId(BASE));
  });

  it('changes with any change to vessels, keys, names or the reserved vessel', () => {
    const variants: ResolvedConfig[] = [
      { ...BASE, vessels: [...BASE.vessels].reverse() },
      {
        ...BASE,
        vessels: [
          { ...BASE.vessels[0]!, percentage: 50 },
          { ...BASE.vessels[1]!, percentage: 30 },
        ],
      },
      { ...BASE, vessels: [{ ...BASE.vessels[0]!, users: [] }, BASE.vessels[1]!] },
      { ...BASE, vessels: [{ ...BASE.vessels[0]!, owner: 'bob' }, BASE.vessels[1]!] },
      { ...BASE, publicKeys: { alex: KEY_B, bob: KEY_A } },
      { ...BASE, reservedShare: 30 },
      { ...BASE, reservedKey: KEY_A },
    ];
    const ids = new Set([buildId(BASE), ...variants.map((v) => buildId(v))]);
    expect(ids.size).toBe(variants.length + 1);
  });

  it('never covers private keys', async () => {
    const { resolved, generated } = await resolveConfig(
      { vessels: [{ percentage: 80, owner: 'alex' }] },
      { reservedShare: 20, reservedKey: RESERVED },
      { generate: () => generateKeyPair(1024) },
    );
    const input = buildIdInput(resolved);
    expect(input).toContain(generated.alex!.publicKey);
    for (const part of generated.alex!.privateKey.split(' ')) expect(input).not.toContain(part);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level, keeps array order and drops undefined members', () => {
    expect(canonicalJson({ b: [3, { z: 1, a: 'x' }], a: null, c: undefined })).toBe(
      '{"a":null,"b":[3,{"a":"x","z":1}]}',
    );
  });
});
