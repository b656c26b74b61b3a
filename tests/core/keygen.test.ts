import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultEngine, generateKeyPair, type KeygenEngine } from '../../src/core/keygen.ts';
import {
  modulusBits,
  parsePrivateKey,
  parsePublicKey,
  privateKeyMatches,
} from '../../src/core/keys.ts';
import { CibError } from '../../src/core/problems.ts';
import type { KeyBits } from '../../src/core/deployment-settings.ts';
import { PROJECT_ROOT } from '../../src/host/deployment.ts';
import { loadForge } from '../../src/worker/keygen.ts';

const CHECK_KEYPAIR = join(PROJECT_ROOT, 'tests/python/check_keypair.py');

/** Runs the standard-library Python checker: pow(pow(m, e, n), d, n) == m, n == p*q, primes. */
function pythonCheck(publicKey: string, privateKey: string, bits: number) {
  return spawnSync('python3', [CHECK_KEYPAIR, '--json', '-', '--bits', String(bits)], {
    input: JSON.stringify({ public_key: publicKey, private_key: privateKey }),
    encoding: 'utf8',
  });
}

async function expectSoundPair(bits: KeyBits, engine: KeygenEngine | 'auto') {
  const pair = await generateKeyPair(bits, { engine, loadForge });
  expect(pair.publicKey).toMatch(/^65537 [1-9][0-9]+$/);
  expect(pair.privateKey).toMatch(/^[1-9][0-9]* [1-9][0-9]* [1-9][0-9]*$/);
  const pub = parsePublicKey(pair.publicKey);
  const priv = parsePrivateKey(pair.privateKey);
  expect(pub.problems).toEqual([]);
  expect(priv.problems).toEqual([]);
  expect(modulusBits(pub.key!.n)).toBe(bits);
  expect(privateKeyMatches(pub.key!, priv.key!)).toBe(true);
  const checked = pythonCheck(pair.publicKey, pair.privateKey, bits);
  expect(checked.stderr).toBe('');
  expect(checked.stdout).toContain(`OK: ${bits}-bit key pair`);
  expect(checked.status).toBe(0);
  return pair;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('generateKeyPair with WebCrypto', () => {
  it.each([1024, 2048, 3072, 4096] as const)('makes a sound %i-bit pair', async (bits) => {
    await expectSoundPair(bits, 'webcrypto');
  });

  it('makes a 2048-bit pair by default and a new one each time', async () => {
    const first = await generateKeyPair();
    const second = await generateKeyPair();
    expect(modulusBits(parsePublicKey(first.publicKey).key!.n)).toBe(2048);
    expect(second.publicKey).not.toBe(first.publicKey);
  });
});

describe('generateKeyPair with node-forge (the fallback without crypto.subtle)', () => {
  it.each([1024, 2048] as const)('makes a sound %i-bit pair', async (bits) => {
    await expectSoundPair(bits, 'forge');
  });
});

describe('engine choice', () => {
  it('uses WebCrypto where crypto.subtle exists', () => {
    expect(defaultEngine()).toBe('webcrypto');
  });

  it('falls back to forge where crypto.subtle is missing, as on a plain-http page', async () => {
    const platform = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: platform.getRandomValues.bind(platform) });
    expect(globalThis.crypto.subtle).toBeUndefined();
    expect(defaultEngine()).toBe('forge');
    await expectSoundPair(1024, 'auto');
    await expect(generateKeyPair(1024, { engine: 'webcrypto' })).rejects.toMatchObject({
      code: 'key.generate.webcrypto-missing',
    });
    // Without WebCrypto and with no other generator given (Node's own callers never pass one).
    await expect(generateKeyPair(1024)).rejects.toMatchObject({
      code: 'key.generate.webcrypto-missing',
    });
  });

  it('refuses key sizes other than 1024, 2048, 3072 and 4096', async () => {
    const attempt = generateKeyPair(512 as KeyBits);
    await expect(attempt).rejects.toBeInstanceOf(CibError);
    await expect(
      generateKeyPair(2000 as KeyBits, { engine: 'forge', loadForge }),
    ).rejects.toMatchObject({
      code: 'key.generate.bits',
    });
  });
});
