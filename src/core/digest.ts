/**
 * How the checks digest file contents: a function the caller may supply (Node's synchronous
 * hashes in the command line and the server), by default the platform's WebCrypto, which runs
 * off the calling thread in browsers, else @noble/hashes.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

export type DigestAlgorithm = 'SHA-1' | 'SHA-256';

/** Lowercase hex, at once or later. */
export type Digester = (algorithm: DigestAlgorithm, data: Uint8Array) => string | Promise<string>;

/** WebCrypto where there is one (a page on plain http from another host has none), else noble. */
export const defaultDigester: Digester = (algorithm, data) => {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return bytesToHex(algorithm === 'SHA-1' ? sha1(data) : sha256(data));
  return subtle
    .digest(algorithm, data as Uint8Array<ArrayBuffer>)
    .then((digest) => bytesToHex(new Uint8Array(digest)));
};
