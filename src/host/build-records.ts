/**
 * The build-record folder's upkeep, shared by the server (temp files left by a crash, removed at
 * start) and `cib prune-builds` (records not asked for within a given age). The layout is the
 * server store's (src/server/store.ts): `DATA_DIR/builds/<id[0..2]>/<id>.json`, temp files
 * `.tmp-<pid>-…` beside them. Shard folders are never removed: a running writer keeps them.
 */
import { lstat, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const BUILDS_FOLDER = 'builds';
export const TEMP_PREFIX = '.tmp-';
/** A record being pruned is first renamed to this prefix, so a writer can tell and rewrite it. */
const PRUNE_PREFIX = '.prune-';
/** A temp file lives milliseconds; one this old belongs to no write in progress. */
export const STALE_TEMP_MS = 10 * 60_000;
const SHARD = /^[a-z0-9]{2}$/;
const RECORD = /^[a-z0-9]{40}\.json$/;

/** The shard folders under DATA_DIR/builds (none when it does not exist yet). */
async function shards(dataDir: string): Promise<string[]> {
  const root = join(dataDir, BUILDS_FOLDER);
  try {
    return (await readdir(root)).filter((name) => SHARD.test(name)).map((name) => join(root, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** True when a process with this id runs here (EPERM: it runs, as another user). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files no write can still be using: those of a process that no longer runs, and
 * any older than STALE_TEMP_MS (the pid may have been reused, or belong to another machine
 * sharing DATA_DIR). Safe while other processes write. Returns how many were removed.
 */
export async function removeStaleTemps(dataDir: string, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const dir of await shards(dataDir)) {
    for (const name of await entries(dir)) {
      if (!name.startsWith(TEMP_PREFIX) && !name.startsWith(PRUNE_PREFIX)) continue;
      const pid = Number(/^\.(?:tmp|prune)-(\d+)-/.exec(name)?.[1]);
      const file = join(dir, name);
      let age: number;
      try {
        age = now - (await lstat(file)).mtimeMs;
      } catch {
        continue;
      }
      if (age > STALE_TEMP_MS || !Number.isInteger(pid) || !processAlive(pid)) {
        await rm(file, { force: true });
        removed += 1;
      }
    }
  }
  return removed;
}

/** "30d", "12h", "90m", "45s" or "2w" as milliseconds; undefined when it is none of these. */
export function parseAge(text: string): number | undefined {
  const match = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as 's'];
  return Number(match[1]) * unit * 1000;
}

export interface PruneResult {
  /** Records removed (or, with dryRun, that would be). */
  removed: number;
  kept: number;
  /** Stale temp files removed on the way. */
  temps: number;
}

/**
 * Deletes build records last written or asked for (`build_installers` touches an existing record)
 * more than `olderThanMs` ago. Safe while the server runs: a record is renamed aside, checked
 * again, and only then deleted; one touched in between is put back. A build asked for at that
 * moment is rewritten by the server, since records are content-addressed.
 */
export async function pruneBuilds(
  dataDir: string,
  olderThanMs: number,
  options: { dryRun?: boolean; now?: number } = {},
): Promise<PruneResult> {
  const now = options.now ?? Date.now();
  const cutoff = now - olderThanMs;
  const result: PruneResult = { removed: 0, kept: 0, temps: 0 };
  for (const dir of await shards(dataDir)) {
    for (const name of await entries(dir)) {
      if (!RECORD.test(name)) continue;
      const file = join(dir, name);
      let mtime: number;
      try {
        mtime = (await stat(file)).mtimeMs;
      } catch {
        continue;
      }
      if (mtime >= cutoff) {
        result.kept += 1;
        continue;
      }
      if (options.dryRun) {
        result.removed += 1;
        continue;
      }
      const aside = join(dir, `${PRUNE_PREFIX}${process.pid}-${name}`);
      try {
        await rename(file, aside);
      } catch {
        continue;
      }
      // Touched between the first look and the rename: asked for again, so it stays.
      if ((await stat(aside)).mtimeMs >= cutoff) {
        await rename(aside, file);
        result.kept += 1;
      } else {
        await rm(aside, { force: true });
        result.removed += 1;
      }
    }
  }
  if (!options.dryRun) result.temps = await removeStaleTemps(dataDir, now);
  return result;
}
