/**
 * `cib customize`'s base checks (software against the signed metainfo, no ambiguous vesselinfo),
 * run in one pass that also computes the base's SHA-256, and remembered by that SHA-256: the
 * verdict belongs to the bytes, so customising from the same base again skips the walk, while
 * every run still checks that the bytes it copies have that SHA-256 before the output appears.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkBase, type BaseCheck } from '../core/archive/base-check.ts';
import type { InstallerSource } from '../core/archive/walk.ts';
import { fingerprint } from '../core/keys.ts';
import type { KnownUpdateKey } from '../core/settings.ts';
import { fileSource, writeFileAtomic } from '../node/files.ts';
import { sha256Hex, sha256Through } from '../node/hash.ts';

/**
 * Bumped when what a stored check means changes, so an old one is never misread: 2 since the
 * strict archive profile, which refuses bases an earlier check passed.
 */
const FORMAT = 2;

/**
 * Where checks are kept: CIB_CACHE_DIR, else the user's cache folder. CIB_CACHE_DIR set to the
 * empty string keeps nothing, so every run walks the base.
 */
export function checksFolder(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CIB_CACHE_DIR !== undefined) return env.CIB_CACHE_DIR || undefined;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'seattle-cib', 'base-checks');
}

/** The verdict depends on the bytes and on which update keys are known. */
function checkFile(folder: string, sha256: string, knownKeys: readonly KnownUpdateKey[]): string {
  const keys = sha256Hex(
    new TextEncoder().encode(knownKeys.map((k) => `${fingerprint(k.key)} ${k.label}`).join('\n')),
  ).slice(0, 16);
  return join(folder, `${sha256}-${keys}.json`);
}

/** A stored check of the base whose SHA-256 is `sha256`, or undefined (also when unreadable). */
export function storedCheck(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  env: NodeJS.ProcessEnv = process.env,
): BaseCheck | undefined {
  const folder = checksFolder(env);
  if (!folder) return undefined;
  try {
    const stored = JSON.parse(readFileSync(checkFile(folder, sha256, knownKeys), 'utf8')) as {
      format?: unknown;
      check?: BaseCheck;
    };
    const check = stored.check;
    if (stored.format !== FORMAT || typeof check?.clean !== 'boolean') return undefined;
    if (!Array.isArray(check.problems)) return undefined;
    return check;
  } catch {
    return undefined;
  }
}

/** Keeps a check for the next run; a folder that cannot be written only costs the next run a walk. */
export function storeCheck(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  check: BaseCheck,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const folder = checksFolder(env);
  if (!folder) return;
  try {
    mkdirSync(folder, { recursive: true });
    writeFileAtomic(
      checkFile(folder, sha256, knownKeys),
      JSON.stringify({ format: FORMAT, sha256, check }),
    );
  } catch {
    // Not kept: correct, only slower next time.
  }
}

/**
 * `source` with the SHA-256 of every byte the walk reads: a tgz is streamed, a zip read whole
 * (its directory is at its end), never both.
 */
function hashing(source: InstallerSource): { source: InstallerSource; digest(): string } {
  let read: { length(): number; digest(): string } | undefined;
  return {
    source: {
      size: source.size,
      head: (length) => source.head(length),
      stream: () => {
        const through = sha256Through(source.stream());
        read = through;
        return through.stream;
      },
      bytes: async () => {
        const bytes = await source.bytes();
        read = { length: () => bytes.length, digest: () => sha256Hex(bytes) };
        return bytes;
      },
    },
    digest() {
      // Every byte must have been read once, or the SHA-256 would not be the file's.
      const hashed = read?.length() ?? 0;
      if (!read || hashed !== source.size)
        throw new Error(`The base changed size while it was read (${hashed} of ${source.size}).`);
      return read.digest();
    },
  };
}

/** Walks the base file once: its checks, and the SHA-256 of exactly the bytes checked. */
export async function checkBaseFile(
  file: string,
  knownKeys: readonly KnownUpdateKey[],
): Promise<{ check: BaseCheck; sha256: string }> {
  const read = hashing(fileSource(file));
  const check = await checkBase(read.source, { knownKeys });
  return { check, sha256: read.digest() };
}
