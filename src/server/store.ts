import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BUILD_ID_PATTERN, buildId, canonicalJson } from '../core/buildid.ts';
import type { ResolvedConfig } from '../core/build-config.ts';
import { CibError, problem } from '../core/problems.ts';
import { BUILDS_FOLDER, removeStaleTemps } from '../host/build-records.ts';
import { sha1Hex } from '../host/hash.ts';
import type { StoreReply, StoreRequest } from './store-worker.ts';
import { workerUrl } from './worker-url.ts';

export const RECORD_FORMAT = 'cib-build-record/1';
/**
 * A record is the public configuration of at most MAX_USERS_PER_BUILD users, a few KB each: a
 * larger one is refused when written and treated as damaged when read (never read whole).
 */
export const MAX_RECORD_BYTES = 1024 * 1024;

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
  /** Why the latest write failed (`ENOSPC`…), until one succeeds again; for /healthz. */
  writeFailure?(): string | undefined;
}

/**
 * docs/formats.md#xml-rpc-api: a build id is 40 characters from [a-z0-9] (ours are lowercase SHA-1
 * hex).
 */
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
    throw corrupt(id);
  }
  // Content-addressed: a record whose content no longer gives its id was changed on disk.
  let actual: string | undefined;
  try {
    actual = buildId(record.resolved, sha1Hex);
  } catch {
    actual = undefined;
  }
  if (actual !== id) throw corrupt(id);
  return record as BuildRecord;
}

function corrupt(id: string): CibError {
  return new CibError(
    problem(
      'store.record.corrupt',
      id,
      `The stored record of build ${id} is damaged; calling build_installers again with the same configuration repairs it.`,
    ),
  );
}

/** The file's text, or undefined when it does not exist; over MAX_RECORD_BYTES it is damaged. */
async function readRecordText(file: string, id: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const buffer = Buffer.alloc(MAX_RECORD_BYTES + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, size);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > MAX_RECORD_BYTES) throw corrupt(id);
    }
    return buffer.subarray(0, size).toString('utf8');
  } finally {
    await handle.close();
  }
}

interface PendingWrite {
  id: string;
  file: string;
  text: string;
  done: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** One worker thread and the writes waiting for it; at most one batch is with the worker. */
interface Lane {
  worker?: Worker;
  queue: PendingWrite[];
  batch?: PendingWrite[];
}

/** Worker threads writing records; each owns a fixed share of the 256 shard folders. */
export const DEFAULT_STORE_THREADS = 4;
/**
 * One immutable, content-addressed JSON file per build: `DATA_DIR/builds/<id[0..2]>/<id>.json`.
 * Each file is written to a uniquely named temp file in the same folder, fsynced, renamed into
 * place and the folder fsynced, so a crash never leaves a partial record and any number of
 * processes can share the folder (a rename onto an identical file changes nothing).
 *
 * The file work happens in worker threads (store-worker.ts) with synchronous calls, one message
 * per batch, so the main thread stays free for requests. Group commit: writes that arrive while
 * a thread is making a batch durable wait for its next batch, which fsyncs each folder once. A
 * put resolves only after its batch is durable.
 */
export class FileBuildStore implements BuildStore {
  readonly root: string;
  readonly dataDir: string;
  private inFlight = new Map<string, PendingWrite>();
  private lanes: Lane[];
  private failure: string | undefined;

  constructor(dataDir: string, options: { threads?: number } = {}) {
    this.dataDir = dataDir;
    this.root = join(dataDir, BUILDS_FOLDER);
    const threads = Math.max(1, Math.floor(options.threads ?? DEFAULT_STORE_THREADS));
    this.lanes = Array.from({ length: threads }, () => ({ queue: [] }));
  }

  fileOf(id: string): string {
    checkId(id);
    return join(this.root, id.slice(0, 2), `${id}.json`);
  }

  async get(id: string): Promise<BuildRecord | undefined> {
    const text = await readRecordText(this.fileOf(id), id);
    return text === undefined ? undefined : parseRecord(text, id);
  }

  async put(id: string, record: BuildRecord): Promise<void> {
    const file = this.fileOf(id);
    if (record.build_id !== id) throw new Error(`Record of ${record.build_id} stored as ${id}.`);
    const pending = this.inFlight.get(id);
    if (pending) return pending.done;
    const text = canonicalJson(record) + '\n';
    if (Buffer.byteLength(text) > MAX_RECORD_BYTES) {
      throw new CibError(
        problem(
          'store.record.too-large',
          id,
          `The build's record would be ${Buffer.byteLength(text)} bytes; at most ${MAX_RECORD_BYTES} are stored.`,
        ),
      );
    }
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // An existing record is left alone by the worker (immutable), which still fsyncs its folder.
    const write: PendingWrite = {
      id,
      file,
      text,
      done,
      resolve,
      reject,
    };
    this.inFlight.set(id, write);
    // A shard folder always goes to the same thread, so each folder is fsynced by one thread.
    const lane = this.lanes[(id.charCodeAt(0) * 36 + id.charCodeAt(1)) % this.lanes.length] as Lane;
    lane.queue.push(write);
    this.dispatch(lane);
    return done;
  }

  /**
   * Starts the worker threads now rather than at the first put, and removes temp files a crash
   * left behind (a server does both at start-up). Resolves with the number of temps removed.
   */
  prestart(): Promise<number> {
    for (const lane of this.lanes) if (!lane.worker) this.startWorker(lane);
    return removeStaleTemps(this.dataDir);
  }

  /** Ends the worker threads (they never keep the process alive while idle anyway). */
  async close(): Promise<void> {
    await Promise.all(this.lanes.map((lane) => lane.worker?.terminate()));
    for (const lane of this.lanes) lane.worker = undefined;
  }

  private dispatch(lane: Lane): void {
    if (lane.batch || lane.queue.length === 0) return;
    const batch = lane.queue;
    lane.queue = [];
    lane.batch = batch;
    const worker = lane.worker ?? this.startWorker(lane);
    worker.ref();
    const request: StoreRequest = { writes: batch.map(({ file, text }) => ({ file, text })) };
    worker.postMessage(request);
  }

  private startWorker(lane: Lane): Worker {
    const worker = new Worker(workerUrl('store-worker'), { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: StoreReply) => {
      const error = reply.error
        ? Object.assign(new Error(reply.error.message), { code: reply.error.code })
        : undefined;
      this.finish(lane, error);
    });
    // A thread that dies takes its batch with it: fail that batch, start afresh on the next.
    const fail = (error: unknown) => {
      if (lane.worker !== worker) return;
      lane.worker = undefined;
      this.finish(lane, error ?? new Error('The store worker thread ended.'));
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(undefined));
    lane.worker = worker;
    return worker;
  }

  /** Why the latest batch failed, until one succeeds again: /healthz reports it. */
  writeFailure(): string | undefined {
    return this.failure;
  }

  private finish(lane: Lane, error: unknown): void {
    const batch = lane.batch ?? [];
    lane.batch = undefined;
    if (batch.length > 0) {
      this.failure = error
        ? ((error as NodeJS.ErrnoException).code ?? (error as Error).message ?? 'error')
        : undefined;
    }
    for (const write of batch) {
      this.inFlight.delete(write.id);
      if (error) write.reject(error);
      else write.resolve();
    }
    if (lane.queue.length === 0) lane.worker?.unref();
    this.dispatch(lane);
  }
}
