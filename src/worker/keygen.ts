/**
 * Key generation where the page runs it: WebCrypto, or node-forge on a page without
 * `crypto.subtle` (plain http from a non-local host), loaded only then.
 */
import { generateKeyPair, type KeyPair } from '../core/keygen.ts';
import type { KeyBits } from '../core/deployment-settings.ts';

/** node-forge, as a separate chunk that only a page without WebCrypto ever fetches. */
export const loadForge = (): Promise<unknown> => import('node-forge');

export function generateKeyPairInPage(bits: KeyBits): Promise<KeyPair> {
  return generateKeyPair(bits, { loadForge });
}
