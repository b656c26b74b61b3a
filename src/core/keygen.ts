/**
 * RSA key-pair generation returning Seattle strings (docs/formats.md#keys). WebCrypto does the work
 * where it exists (browsers' secure contexts, Node 20); node-forge covers pages served over plain
 * http from a non-local host, where `crypto.subtle` is missing. The caller that may need forge
 * passes `loadForge` (the page's worker loads it lazily, so it never weighs on the first load):
 * the core itself imports no package that brings a platform's types with it.
 */
import { bytesToBigInt } from './bigint.ts';
import { base64UrlToBytes } from './bytes.ts';
import { formatPrivateKey, formatPublicKey } from './keys.ts';
import { CibError, problem } from './problems.ts';
import { KEY_BITS, type KeyBits } from './deployment-settings.ts';

export interface KeyPair {
  /** Seattle public key `"e n"`. */
  publicKey: string;
  /** Seattle private key `"d p q"`: a secret, never log it. */
  privateKey: string;
}

export type KeygenEngine = 'webcrypto' | 'forge';

/** The exponent every generated key uses; parsing never assumes it (docs/formats.md#keys). */
const PUBLIC_EXPONENT = 65537;
const PUBLIC_EXPONENT_BYTES = new Uint8Array([0x01, 0x00, 0x01]);
/** How long forge computes before yielding, so a page or worker can still take messages. */
const FORGE_STEP_MS = 50;

/** The engine `'auto'` picks here: WebCrypto when `crypto.subtle` exists, otherwise forge. */
export function defaultEngine(): KeygenEngine {
  return globalThis.crypto?.subtle ? 'webcrypto' : 'forge';
}

/** Generates an RSA key pair of `bits` bits (1024, 2048, 3072 or 4096) with e = 65537. */
export async function generateKeyPair(
  bits: KeyBits = 2048,
  options: { engine?: 'auto' | KeygenEngine; loadForge?: () => Promise<unknown> } = {},
): Promise<KeyPair> {
  if (!(KEY_BITS as readonly number[]).includes(bits)) {
    throw new CibError(
      problem(
        'key.generate.bits',
        'bits',
        `Keys can be generated with ${KEY_BITS.join(', ')} bits, not ${String(bits)}.`,
      ),
    );
  }
  const engine =
    options.engine === undefined || options.engine === 'auto' ? defaultEngine() : options.engine;
  return engine === 'webcrypto'
    ? generateWithWebCrypto(bits)
    : generateWithForge(bits, options.loadForge);
}

function jwkNumber(jwk: JsonWebKey, member: 'n' | 'e' | 'd' | 'p' | 'q'): bigint {
  const text = jwk[member];
  const bytes = text === undefined ? undefined : base64UrlToBytes(text);
  if (!bytes) {
    throw new CibError(
      problem(
        'key.generate.webcrypto',
        member,
        `WebCrypto returned a key without a readable "${member}".`,
      ),
    );
  }
  return bytesToBigInt(bytes);
}

async function generateWithWebCrypto(bits: KeyBits): Promise<KeyPair> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw new CibError(
      problem(
        'key.generate.webcrypto-missing',
        'engine',
        'WebCrypto (crypto.subtle) is not available here; pages get it only over https or from localhost.',
      ),
    );
  }
  // The algorithm only labels the key; Seattle uses the raw numbers. Extractable, to export them.
  const pair = await subtle.generateKey(
    {
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength: bits,
      publicExponent: PUBLIC_EXPONENT_BYTES,
      hash: 'SHA-256',
    },
    true,
    ['sign', 'verify'],
  );
  return keyPairOfJwk(await subtle.exportKey('jwk', pair.privateKey));
}

/**
 * The Seattle strings of an RSA private key exported as a JSON Web Key (RFC 7518 §6.3), as
 * WebCrypto and Node's KeyObject export it.
 */
export function keyPairOfJwk(jwk: JsonWebKey): KeyPair {
  return {
    publicKey: formatPublicKey({ e: jwkNumber(jwk, 'e'), n: jwkNumber(jwk, 'n') }),
    privateKey: formatPrivateKey({
      d: jwkNumber(jwk, 'd'),
      p: jwkNumber(jwk, 'p'),
      q: jwkNumber(jwk, 'q'),
    }),
  };
}

/** The parts of forge's step-wise generator we use (its type definitions leave them out). */
interface ForgeBigInteger {
  toString(radix: number): string;
}
interface ForgeGenerationState {
  keys: { privateKey: Record<'n' | 'e' | 'd' | 'p' | 'q', ForgeBigInteger> } | null;
}
interface ForgeRsa {
  createKeyPairGenerationState(
    bits: number,
    e: number,
    options: { prng: { getBytesSync(count: number): string } },
  ): ForgeGenerationState;
  stepKeyPairGenerationState(state: ForgeGenerationState, milliseconds: number): boolean;
}
interface ForgeModule {
  pki: { rsa: ForgeRsa };
}

/** Random bytes as forge's "binary string", straight from the platform's CSPRNG. */
function platformRandomBinaryString(random: Crypto, count: number): string {
  const bytes = new Uint8Array(count);
  // getRandomValues fills at most 65536 bytes per call.
  for (let start = 0; start < count; start += 65536) {
    random.getRandomValues(bytes.subarray(start, Math.min(count, start + 65536)));
  }
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

async function generateWithForge(
  bits: KeyBits,
  loadForge: (() => Promise<unknown>) | undefined,
): Promise<KeyPair> {
  if (!loadForge) {
    throw new CibError(
      problem(
        'key.generate.webcrypto-missing',
        'engine',
        'WebCrypto (crypto.subtle) is not available here, and no other key generator was given.',
      ),
    );
  }
  // forge is CommonJS: Node's ESM loader puts it under `default`, bundlers may spread it too.
  const imported = (await loadForge()) as ForgeModule & { default?: ForgeModule };
  const rsa = (imported.default ?? imported).pki.rsa;
  // The step-wise generator is forge's pure JavaScript path (its one-shot call would hand off to
  // Node's native crypto, which is not what a browser without WebCrypto gets). Its randomness
  // comes from crypto.getRandomValues, which every page has, secure context or not.
  const random = globalThis.crypto;
  if (typeof random?.getRandomValues !== 'function') {
    throw new CibError(
      problem(
        'key.generate.no-random',
        'engine',
        'This environment has no crypto.getRandomValues, so keys cannot be generated safely.',
      ),
    );
  }
  const prng = { getBytesSync: (count: number) => platformRandomBinaryString(random, count) };
  const state = rsa.createKeyPairGenerationState(bits, PUBLIC_EXPONENT, { prng });
  while (!rsa.stepKeyPairGenerationState(state, FORGE_STEP_MS)) {
    await new Promise<void>((resolve) => setTimeout(() => resolve(), 0));
  }
  const key = state.keys!.privateKey;
  const number = (member: 'n' | 'e' | 'd' | 'p' | 'q') => BigInt(key[member].toString(10));
  return {
    publicKey: formatPublicKey({ e: number('e'), n: number('n') }),
    privateKey: formatPrivateKey({ d: number('d'), p: number('p'), q: number('q') }),
  };
}
