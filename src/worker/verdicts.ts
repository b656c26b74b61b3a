/// <reference lib="webworker" />
/**
 * The base checks' verdicts (software and vesselinfo, src/core/archive/base-check.ts), kept in
 * the Cache API so that a later visit never checks the same bytes again. A verdict belongs to the
 * base's SHA-256, which every visit still checks on the bytes it builds from, and holds only for
 * the same known update keys and the same checking code: the key names all three (the code by
 * this worker's content-hashed address, so a new deployment checks afresh). The cache is this
 * worker's own (`cib-base-checks-v1`); dropping it only costs the next visit a check.
 */
import type { BaseCheck } from '../core/archive/base-check.ts';
import { sha256Hex } from '../core/archive/installer.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';

export const VERDICT_CACHE = 'cib-base-checks-v1';

/** A kept verdict from this build of the code; the development server's code changes unseen. */
const KEEPING = !import.meta.env.DEV;

async function openVerdicts(): Promise<Cache | undefined> {
  try {
    return KEEPING && 'caches' in globalThis ? await caches.open(VERDICT_CACHE) : undefined;
  } catch {
    return undefined; // private windows and insecure origins have no Cache API
  }
}

async function verdictKey(sha256: string, knownKeys: readonly KnownUpdateKey[]): Promise<string> {
  const scope = await sha256Hex(
    new TextEncoder().encode(
      JSON.stringify({ code: import.meta.url, keys: knownKeys.map((k) => [k.key, k.label]) }),
    ),
  );
  // Never fetched: only a name for the entry, on this origin as the Cache API wants.
  return new URL(`cib-base-check/${sha256}/${scope}`, self.location.href).href;
}

function isBaseCheck(value: unknown): value is BaseCheck {
  const check = value as BaseCheck | undefined;
  return typeof check?.clean === 'boolean' && Array.isArray(check.problems);
}

/** The verdict kept for the base with this SHA-256 and these known keys, if any. */
export async function keptVerdict(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
): Promise<BaseCheck | undefined> {
  try {
    const cache = await openVerdicts();
    const response = await cache?.match(await verdictKey(sha256, knownKeys));
    if (!response) return undefined;
    const kept = (await response.json()) as { sha256?: unknown; check?: unknown };
    return kept.sha256 === sha256 && isBaseCheck(kept.check) ? kept.check : undefined;
  } catch {
    return undefined; // unreadable: check again
  }
}

/** Keeps a verdict; call only once the bytes it was reached on passed the SHA-256 check. */
export async function keepVerdict(
  sha256: string,
  knownKeys: readonly KnownUpdateKey[],
  check: BaseCheck,
): Promise<void> {
  try {
    const cache = await openVerdicts();
    await cache?.put(
      await verdictKey(sha256, knownKeys),
      new Response(JSON.stringify({ sha256, check }), {
        headers: { 'Content-Type': 'application/json' },
      }),
    );
  } catch {
    // Not kept: correct, only slower next visit.
  }
}
