import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BUILD_ID_PATTERN, canonicalJson } from '../core/buildid.ts';
import type { ResolvedConfig } from '../core/config.ts';
import { CibError, problem } from '../core/problems.ts';

export const RECORD_FORMAT = 'cib-build-record/1';

/** What is kept per build: the resolved public configuration only, never a private key. */
export interface BuildRecord {
  format: typeof RECORD_FORMAT;
  build_id: string;
  resolved: ResolvedConfig;
}

/** The storage seam: another backend (a database, object storage) implements these two calls. */
export interface BuildStore {
  /** Resolves only once the record is durable. Storing the same id again is a no-op. */
  put(id: string, record: BuildRecord): Promise<void>;
  get(id: string): Promise<BuildRecord | undefined>;
}

/** Spec §6: a build id is 40 characters from [a-z0-9] (ours are lowercase SHA-1 hex). */
export function isBuildId(id: unknown): boolean {
  return typeof id === 'string' && BUILD_ID_PATTERN.test(id);
}

function checkId(id: string): void {
  if (!isBuildId(id))
    throw new CibError(
      problem('store.id.invalid', 'build_id', 'A build id is 40 characters from a-z and 0-9.'),
    );
}

/** A parsed record file, or a reason it is not one. */
export function parseRecord(text: string, id: string): BuildRecord {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const record = data as Partial<BuildRecord> | undefined;
  if (
    !record ||
    record.format !== RECORD_FORMAT ||
    record.build_id !== id ||
    typeof record.resolved !== 'object' ||
    record.resolved === null ||
    !Array.isArray(record.resolved.vessels)
  ) {
    throw new CibError(
      problem('store.record.corrupt', id, `The stored record of build ${id} cannot be read.`),
    );
  }
  return record as BuildRecord;
}

interface PendingWrite {
  id: string;
  file: string;
  text: string;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * One immutable, content-addressed JSON file per build: `DATA_DIR/builds/<id[0..2]>/<id>.json`.
 * Each file is written to a uniquely named temp file in the same folder, fsynced, renamed into
 * place and the folder fsynced, so a crash never leaves a partial record and any number of
 * processes can share the folder (a rename onto an identical file changes nothing).
 *
 * Group commit: writes that arrive while a batch is being made durable wait for the next batch,
 * which fsyncs its files concurrently and each folder once. A put resolves only after its batch
 * is durable.
 */
export class FileBuildStore implements BuildStore {
  readonly root: string;
  private queue: PendingWrite[] = [];
  private inFlight = new Map<string, PendingWrite>();
  private flushing = false;
  private knownDirs = new Set<string>();

  constructor(dataDir: string) {
    this.root = join(dataDir, 'builds');
  }

  fileOf(id: string): string {
    checkId(id);
    return join(this.root, id.slice(0, 2), `${id}.json`);
  }

  async get(id: string): Promise<BuildRecord | undefined> {
    const file = this.fileOf(id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseRecord(text, id);
  }

  async put(id: string, record: BuildRecord): Promise<void> {
    const file = this.fileOf(id);
    if (record.build_id !== id) throw new Error(`Record of ${record.build_id} stored as ${id}.`);
    const pending = this.inFlight.get(id);
    if (pending) return pending.done;
    if (await exists(file)) return; // immutable: an existing record is left alone
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const write: PendingWrite = {
      id,
      file,
      text: canonicalJson(record) + '\n',
      done,
      resolve,
      reject,
    };
    this.inFlight.set(id, write);
    this.queue.push(write);
    if (!this.flushing) void this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.commit(batch);
          for (const write of batch) write.resolve();
        } catch (error) {
          for (const write of batch) write.reject(error);
        } finally {
          for (const write of batch) this.inFlight.delete(write.id);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(batch: PendingWrite[]): Promise<void> {
    const dirs = new Set(batch.map((write) => dirname(write.file)));
    const created = new Set<string>();
    for (const dir of dirs) {
      if (this.knownDirs.has(dir)) continue;
      const made = await mkdir(dir, { recursive: true });
      if (made !== undefined) created.add(dirname(dir)).add(dirname(dirname(dir)));
      this.knownDirs.add(dir);
    }
    const temps = await Promise.all(batch.map((write) => writeDurably(write.file, write.text)));
    try {
      await Promise.all(batch.map((write, i) => rename(temps[i] as string, write.file)));
    } catch (error) {
      await Promise.all(temps.map((temp) => rm(temp, { force: true })));
      throw error;
    }
    // The renames (and any new shard folder) are durable once their folders are fsynced.
    await Promise.all([...dirs, ...created].map(syncDir));
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes `text` to a fresh temp file beside `file`, fsyncs it, returns its name. */
async function writeDurably(file: string, text: string): Promise<string> {
  const temp = join(
    dirname(file),
    `.tmp-${process.pid}-${randomBytes(6).toString('hex')}-${file.slice(-45, -5)}`,
  );
  const handle = await open(temp, 'wx', 0o644);
  let written = false;
  try {
    await handle.writeFile(text, 'utf8');
    await handle.datasync();
    written = true;
  } finally {
    await handle.close();
    if (!written) await rm(temp, { force: true });
  }
  return temp;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
