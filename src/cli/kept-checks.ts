/**
 * `cib customize`'s base checks (software against the signed metainfo, no ambiguous vesselinfo),
 * kept by the base's SHA-256 (base-walk.ts runs them): the verdict belongs to the bytes, so
 * customising from the same base again skips the walk, while every run still checks that the
 * bytes it copies have that SHA-256 before the output appears. With the verdict goes where an
 * append-ready base is cut, so a later run reads nothing but the bytes it copies.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  checkBase,
  retrustBaseCheck,
  validSigner,
  type BaseCheck,
} from '../core/archive/base-check.ts';
import type { SpliceCut } from '../core/archive/tgz-marker.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';
import { applyTrust, knownUpdateKeys, type SoftwareReport } from '../core/software.ts';
import { isDemoUpdateKey, withDemoKey } from '../core/update-trust.ts';
import { demoKeyTrustedFor, type SignerOf } from '../host/demo-bases.ts';
import { writeFileAtomic } from '../host/files.ts';
import { sha256Hex } from '../host/hash.ts';

/**
 * Bumped when what a stored check means changes, so an old one is never misread: 3 since the
 * strict archive profile, which refuses bases an earlier check passed.
 */
const FORMAT = 3;

/** A kept check, and for an append-ready tgz base where it is cut. */
export interface KeptCheck {
  check: BaseCheck;
  cut?: SpliceCut;
}

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
    new TextEncoder().encode(JSON.stringify(knownKeys.map((k) => [k.key, k.label]))),
  ).slice(0, 16);
  return join(folder, `${sha256}-${keys}.json`);
}

/** A stored check of the base whose SHA-256 is `sha256`, or undefined (also when unreadable). */
export function storedCheck(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  env: NodeJS.ProcessEnv = process.env,
): KeptCheck | undefined {
  const folder = checksFolder(env);
  if (!folder) return undefined;
  try {
    const stored = JSON.parse(readFileSync(checkFile(folder, sha256, knownKeys), 'utf8')) as {
      format?: unknown;
      sha256?: unknown;
      check?: BaseCheck;
      cut?: SpliceCut;
    };
    const { check, cut } = stored;
    if (stored.format !== FORMAT || stored.sha256 !== sha256) return undefined;
    if (typeof check?.clean !== 'boolean' || !Array.isArray(check.problems)) return undefined;
    const whole = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
    if (cut !== undefined && !(whole(cut.cut) && whole(cut.cutTar) && whole(cut.mtime)))
      return undefined;
    return cut ? { check, cut } : { check };
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
    mkdirSync(folder, { recursive: true });
    writeFileAtomic(
      checkFile(folder, sha256, knownKeys),
      JSON.stringify({ format: FORMAT, sha256, ...kept }),
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
