/**
 * The demo-key rule (docs/keys.md, "The demo update key") for a folder of bases with its
 * `manifest.json`, as the command line and the page's build see a deployment: the demo update key
 * is trusted only when every base the manifest lists is there with the SHA-256 it lists and is
 * validly signed by the demo key. The server applies the same rule to its own checks
 * (src/server/installers.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkInstallerSoftware, validSigner } from '../core/archive/base-check.ts';
import { MANIFEST_FILE, parseManifest } from '../core/manifest.ts';
import { knownUpdateKeys } from '../core/software.ts';
import { deploymentTrustsDemoKey } from '../core/update-trust.ts';
import { sha256Hex } from './hash.ts';

/** The key a base's metainfo is validly signed by (`validSigner`), given its bytes and SHA-256. */
export type SignerOf = (bytes: Uint8Array, sha256: string) => Promise<string | undefined>;

/** Walks the base to find its signer. */
export const walkForSigner: SignerOf = async (bytes) =>
  validSigner(await checkInstallerSoftware(bytes, { knownKeys: knownUpdateKeys() }));

/**
 * The SHA-256 of every base in `dir` when all of them are signed by the demo update key, else
 * undefined (no manifest, a base missing or not as listed, or one signed by any other key).
 * Stops at the first base that settles the answer. `signerOf` may keep what it finds by SHA-256.
 */
export async function demoBasesOf(
  dir: string,
  signerOf: SignerOf = walkForSigner,
): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const { manifest } = parseManifest(text);
  if (!manifest || manifest.bases.length === 0) return undefined;
  const digests: string[] = [];
  for (const entry of manifest.bases) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(join(dir, entry.file)));
    } catch {
      return undefined;
    }
    if (sha256Hex(bytes) !== entry.sha256) return undefined;
    if (!deploymentTrustsDemoKey([await signerOf(bytes, entry.sha256)])) return undefined;
    digests.push(entry.sha256);
  }
  return digests;
}

/**
 * Whether the base with SHA-256 `sha256` belongs to a deployment that trusts the demo key: the
 * manifest in `dir` (the folder beside the base) lists it, and every base it lists is demo-signed.
 */
export async function demoKeyTrustedFor(
  dir: string,
  sha256: string,
  signerOf: SignerOf = walkForSigner,
): Promise<boolean> {
  const bases = await demoBasesOf(dir, signerOf);
  return bases !== undefined && bases.includes(sha256);
}
