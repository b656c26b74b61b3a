/**
 * One thread of KeygenPool (keygen-pool.ts): generates one RSA key pair per message with Node's
 * synchronous generator, so the work stays on this thread. WebCrypto's generateKey would run on
 * libuv's threadpool instead, which the server's file reads share: four keys at once there stall
 * every static file and record read until one finishes (README, "Security and limits").
 */
import { generateKeyPairSync, type webcrypto } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { keyPairOfJwk, type KeyPair } from '../core/keygen.ts';

/** What the pool sends: one key of this many bits (checked by the pool). */
export interface KeygenRequest {
  bits: number;
}
/** The pair as Seattle strings, or why there is none. */
export type KeygenReply = { pair: KeyPair } | { error: string };

/** The exponent every generated key uses (docs/formats.md#keys), as the core's generator does. */
const PUBLIC_EXPONENT = 65537;

parentPort?.on('message', ({ bits }: KeygenRequest) => {
  let reply: KeygenReply;
  try {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicExponent: PUBLIC_EXPONENT,
    });
    reply = { pair: keyPairOfJwk(privateKey.export({ format: 'jwk' }) as webcrypto.JsonWebKey) };
  } catch (error) {
    reply = { error: (error as Error).message };
  }
  parentPort?.postMessage(reply);
});
