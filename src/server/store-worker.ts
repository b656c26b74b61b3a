/**
 * A worker thread of FileBuildStore (store.ts): it makes one batch of records durable per message
 * with plain synchronous file-system calls, so the server's main thread spends one message per
 * batch instead of seven promise-based file operations per record. One batch is with a worker at
 * a time, so a reply needs no tag to say which batch it answers.
 *
 * Each file goes to a unique temp file in its folder (fsynced), is renamed into place, and then
 * every folder touched is fsynced: a record is whole or absent after a crash, never partial.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { parentPort } from 'node:worker_threads';

/** One record file to make durable. */
export interface StoreWrite {
  file: string;
  text: string;
}
/** What the main thread sends: one batch. */
export interface StoreRequest {
  writes: StoreWrite[];
}
/** The answer to a batch: nothing when it is durable, else why not. */
export interface StoreReply {
  error?: { message: string; code?: string };
}

/** Folders this thread has made sure exist. */
const knownDirs = new Set<string>();

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `text` to a fresh temp file beside `file` and fsyncs it; returns the temp name. */
function writeTemp(file: string, text: string): string {
  const temp = join(
    dirname(file),
    `.tmp-${process.pid}-${randomBytes(6).toString('hex')}-${file.slice(-45, -5)}`,
  );
  const fd = openSync(temp, 'wx', 0o644);
  let written = false;
  try {
    writeFileSync(fd, text, 'utf8');
    fdatasyncSync(fd);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(temp, { force: true });
  }
  return temp;
}

/** True when `file` holds exactly `text` (and is now touched); false when absent or damaged. */
function intact(file: string, text: string): boolean {
  try {
    if (statSync(file).size !== Buffer.byteLength(text)) return false;
    if (readFileSync(file, 'utf8') !== text) return false;
    const now = new Date();
    utimesSync(file, now, now);
    return true;
  } catch (error) {
    // Gone (pruned at this moment, say): write it afresh.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function commit(writes: readonly StoreWrite[]): void {
  const dirs = new Set<string>();
  const created = new Set<string>();
  const temps: ([temp: string, file: string] | undefined)[] = [];
  try {
    for (const { file, text } of writes) {
      const dir = dirname(file);
      dirs.add(dir);
      if (!knownDirs.has(dir) || !existsSync(dir)) {
        if (mkdirSync(dir, { recursive: true }) !== undefined)
          created.add(dirname(dir)).add(dirname(dirname(dir)));
        knownDirs.add(dir);
      }
      // Immutable: an intact existing record (written by this or another process) is only
      // touched, so `cib prune-builds` sees it was asked for; its folder is still fsynced below.
      // A damaged one (truncated, garbled) is replaced, since records are content-addressed.
      if (intact(file, text)) continue;
      temps.push([writeTemp(file, text), file]);
    }
    // All data first, then the renames, then each folder once: the first folder fsync commits
    // the journal for the rest.
    for (let i = 0; i < temps.length; i++) {
      const [temp, file] = temps[i]!;
      renameSync(temp, file);
      temps[i] = undefined;
    }
  } catch (error) {
    for (const entry of temps) if (entry) rmSync(entry[0], { force: true });
    throw error;
  }
  for (const dir of dirs) syncDir(dir);
  for (const dir of created) syncDir(dir);
}

const port = parentPort!;
port.on('message', ({ writes }: StoreRequest) => {
  let reply: StoreReply;
  try {
    commit(writes);
    reply = {};
  } catch (error) {
    const { message, code } = (error ?? {}) as Partial<NodeJS.ErrnoException>;
    reply = { error: { message: String(message ?? error), code } };
  }
  port.postMessage(reply);
});
