/**
 * `cib customize`'s base checks (software against the signed metainfo, no ambiguous vesselinfo),
 * kept by the base's SHA-256 (base-walk.ts runs them): the verdict belongs to the bytes, so
 * customising from the same base again skips the walk, while every run still makes sure the bytes
 * it copies have that SHA-256 before the output appears. With the verdict goes where an
 * append-ready base is cut, so a later run reads nothing but the bytes it copies, and the stamps
 * (fileStamp) of the files found to hold those bytes, so a later run copying an unchanged file
 * need not hash it again (README, "cib customize").
 */
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
// The walk (base-check.ts, with the inflater) and the demo-key rule (demo-bases.ts) are imported
// only when a run needs them: a kept check of a base not signed by the demo key uses neither.
import type { BaseCheck } from '../core/archive/base-check.ts';
import type { SpliceCut } from '../core/archive/tgz-marker.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';
import { applyTrust, knownUpdateKeys, type SoftwareReport } from '../core/software.ts';
import { isDemoUpdateKey, withDemoKey } from '../core/update-trust.ts';
import type { SignerOf } from '../host/demo-bases.ts';
import { writeFileAtomic } from '../host/files.ts';

/**
 * Bumped when what a stored check means changes, so an old one is never misread: 3 since the
 * strict archive profile, which refuses bases an earlier check passed; 4 since a check names the
 * update keys it was judged under and the stamps of its files.
 */
const FORMAT = 4;

/** A kept check, for an append-ready tgz base where it is cut, and the stamps of its files. */
export interface KeptCheck {
  check: BaseCheck;
  cut?: SpliceCut;
  /** fileStamp texts of files that held exactly these bytes when they were hashed, newest first. */
  stamps?: string[];
}

/** How many stamps a check keeps: a base copied into a few deployments, and its last rewrites. */
const MAX_STAMPS = 8;

/**
 * A file's stamp is kept only when its times are at least this much older than the clock when it
 * was read: a rewrite within the same tick of the file system's clock could leave them as they
 * were, and this is far more than the tick of any local file system.
 */
const SETTLED_NS = 2_000_000_000n;

const STAMP = /^\d+:\d+:\d+:\d+:\d+$/;

/**
 * A file's device, inode, size and times of last change (modification and status change, in
 * nanoseconds), as git's index keeps them: a file rewritten in place, renamed over or replaced
 * changes one of them. `settled` says whether its times are far enough in the past (SETTLED_NS)
 * for the stamp to be kept.
 */
export function fileStamp(file: string): { text: string; size: number; settled: boolean } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const s = statSync(file, { bigint: true });
  const changed = s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs;
  return {
    text: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
    size: Number(s.size),
    settled: now - changed >= SETTLED_NS,
  };
}

/** The stamps a check keeps once `stamp` is added to those it has. */
export function withStamp(stamps: readonly string[] | undefined, stamp: string): string[] {
  return [stamp, ...(stamps ?? []).filter((s) => s !== stamp)].slice(0, MAX_STAMPS);
}

/**
 * Where checks are kept: CIB_CACHE_DIR, else the user's cache folder. CIB_CACHE_DIR set to the
 * empty string keeps nothing, so every run walks the base. bin/cib.cjs keeps V8's code cache for
 * the command line in the same folder by the same rule.
 */
export function checksFolder(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CIB_CACHE_DIR !== undefined) return env.CIB_CACHE_DIR || undefined;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'seattle-cib', 'base-checks');
}

/** The update keys a verdict was judged under, as a check names them. */
function keysText(knownKeys: readonly KnownUpdateKey[]): string {
  return JSON.stringify(knownKeys.map((k) => [k.key, k.label]));
}

/**
 * 64 bits of FNV-1a (two 32-bit lanes) of the text, in hex: a short file name for the keys, not a
 * proof, since a check is used only when the keys it names are these very keys. Neither Node's
 * hashes (loading node:crypto costs a short run more) nor a SHA-256 in JavaScript (slower still,
 * before V8 optimises it).
 */
function nameHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  return hex(a) + hex(b);
}

/** The verdict depends on the bytes and on which update keys are known. */
function checkFile(folder: string, sha256: string, keys: string): string {
  return join(folder, `${sha256}-${nameHash(keys)}.json`);
}

/** A stored check of the base whose SHA-256 is `sha256`, or undefined (also when unreadable). */
export function storedCheck(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  env: NodeJS.ProcessEnv = process.env,
): KeptCheck | undefined {
  const folder = checksFolder(env);
  if (!folder) return undefined;
  const keys = keysText(knownKeys);
  try {
    const stored = JSON.parse(readFileSync(checkFile(folder, sha256, keys), 'utf8')) as {
      format?: unknown;
      sha256?: unknown;
      keys?: unknown;
      check?: BaseCheck;
      cut?: SpliceCut;
      stamps?: unknown;
    };
    const { check, cut } = stored;
    if (stored.format !== FORMAT || stored.sha256 !== sha256 || stored.keys !== keys)
      return undefined;
    if (typeof check?.clean !== 'boolean' || !Array.isArray(check.problems)) return undefined;
    const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (cut !== undefined && !(whole(cut.cut) && whole(cut.cutTar) && whole(cut.mtime)))
      return undefined;
    const stamps = Array.isArray(stored.stamps)
      ? stored.stamps
          .filter((s): s is string => typeof s === 'string' && STAMP.test(s))
          .slice(0, MAX_STAMPS)
      : [];
    return { check, ...(cut ? { cut } : {}), ...(stamps.length > 0 ? { stamps } : {}) };
  } catch {
    return undefined;
  }
}

/** Keeps a check for the next run; a folder that cannot be written only costs the next run a walk. */
export function storeCheck(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  kept: KeptCheck,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const folder = checksFolder(env);
  if (!folder) return;
  try {
    const keys = keysText(knownKeys);
    mkdirSync(folder, { recursive: true });
    writeFileAtomic(
      checkFile(folder, sha256, keys),
      JSON.stringify({ format: FORMAT, sha256, keys, ...kept }),
    );
  } catch {
    // Not kept: correct, only slower next time.
  }
}

/**
 * Whether the deployment `file` belongs to trusts the demo key, asked only for a report signed by
 * it: for the command line, the deployment is the folder beside the file, whose manifest.json
 * must list the file's SHA-256 and only demo-signed bases (docs/keys.md).
 */
async function demoEarned(
  file: string,
  sha256: string | (() => Promise<string>),
  report: SoftwareReport | undefined,
): Promise<boolean> {
  if (report?.verdict !== 'untrusted-key' || !report.key || !isDemoUpdateKey(report.key.key))
    return false;
  const { demoKeyTrustedFor } = await import('../host/demo-bases.ts');
  return demoKeyTrustedFor(
    dirname(file),
    typeof sha256 === 'string' ? sha256 : await sha256(),
    keptSigner,
  );
}

/**
 * A base's signer from the check kept for its SHA-256, else from one walk that is then kept, so
 * the demo-key rule reads each base of the folder once, not on every run.
 */
const keptSigner: SignerOf = async (bytes, sha256) => {
  const { checkBase, validSigner } = await import('../core/archive/base-check.ts');
  const keys = knownUpdateKeys();
  const kept = storedCheck(sha256, keys);
  if (kept) return validSigner(kept.check.software);
  const check = await checkBase(bytes, { knownKeys: keys });
  storeCheck(sha256, keys, { check });
  return validSigner(check.software);
};

/** A base check judged under the trust of the deployment the base file belongs to. */
export async function deploymentBaseCheck(
  file: string,
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  check: BaseCheck,
): Promise<BaseCheck> {
  if (!(await demoEarned(file, sha256, check.software))) return check;
  const { retrustBaseCheck } = await import('../core/archive/base-check.ts');
  return retrustBaseCheck(check, withDemoKey(knownKeys, true));
}

/** A software report judged under the trust of the deployment the file belongs to. */
export async function deploymentReport(
  file: string,
  sha256: string | (() => Promise<string>),
  knownKeys: readonly KnownUpdateKey[],
  report: SoftwareReport | undefined,
): Promise<SoftwareReport | undefined> {
  if (!report || !(await demoEarned(file, sha256, report))) return report;
  return applyTrust(report, withDemoKey(knownKeys, true));
}
