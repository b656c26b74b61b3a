/**
 * Key generation for `build_installers` (README, "Security and limits"): a fixed number of threads
 * each making one RSA key at a time, and a bounded first-come first-served queue of the keys
 * waiting for them. A call's keys are admitted together or not at all: when they would make the
 * queue longer than its bound the call is refused at once (the shim's fault "busy"), so the work
 * waiting is bounded while bursts such as the old service's stress example (50 calls of two keys)
 * simply wait their turn. A call whose client has gone away leaves the queue.
 */
import { Worker } from 'node:worker_threads';
import type { KeyPair } from '../core/keygen.ts';
import type { KeyBits } from '../core/deployment-settings.ts';
import type { KeygenReply, KeygenRequest } from './keygen-worker.ts';

/** What /healthz reports: the pool's size and its work now, in keys. */
export interface KeygenLoad {
  /** Keys generated at once, one per thread. */
  threads: number;
  /** Keys that may wait beyond those. */
  queue_limit: number;
  /** Keys being generated now. */
  running: number;
  /** Keys waiting for a thread. */
  queued: number;
  /** Calls whose keys are being generated or waiting. */
  calls: number;
}

/** A call refused because its keys would not fit in the queue. */
export class KeygenBusy extends Error {
  constructor(
    readonly calls: number,
    readonly keys: number,
  ) {
    super(`Key generation is busy with ${keys} keys for ${calls} calls.`);
    this.name = 'KeygenBusy';
  }
}

/** A call dropped because its caller went away before its keys were made. */
export class KeygenCancelled extends Error {
  constructor() {
    super('The call was withdrawn before its keys were generated.');
    this.name = 'KeygenCancelled';
  }
}

/**
 * How thread `slot` makes one key. The pool's own runs on a worker thread per slot; a test may
 * hold keys back to put the queue in a known state.
 */
export type SlotGenerator = (slot: number, bits: KeyBits) => Promise<KeyPair>;

export interface KeygenPoolOptions {
  /** Keys generated at once (at least 1). */
  threads: number;
  /** Keys that may wait beyond those (0: a call waits only when the pool is idle). */
  queueLimit: number;
  generateOn?: SlotGenerator;
}

/** The keys one call asked for. */
interface Job {
  count: number;
  pairs: KeyPair[];
  settled: boolean;
  resolve(pairs: KeyPair[]): void;
  reject(error: unknown): void;
  forget(): void;
}

interface WaitingKey {
  job: Job;
  bits: KeyBits;
}

/**
 * The worker's module beside this one: compiled, dist-node/keygen-worker.mjs next to the chunk
 * holding this code. From the sources (tsx, vitest) it is keygen-worker.ts, which plain Node cannot
 * load: a one-line bootstrap loads it through tsx's tsImport (a worker ignores --import).
 */
const FROM_SOURCES = import.meta.url.endsWith('.ts');
function workerUrl(): URL {
  if (!FROM_SOURCES) return new URL('./keygen-worker.mjs', import.meta.url);
  const entry = new URL('./keygen-worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { tsImport } from ${JSON.stringify(tsx)}; await tsImport(${JSON.stringify(entry)}, ${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

/** One worker thread, started on first use, making one key at a time. */
class KeygenThread {
  private worker?: Worker;
  private pending?: { resolve(pair: KeyPair): void; reject(error: unknown): void };

  generate(bits: KeyBits): Promise<KeyPair> {
    const worker = this.worker ?? this.start();
    // Only a thread at work keeps the process alive.
    worker.ref();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const request: KeygenRequest = { bits };
      worker.postMessage(request);
    });
  }

  close(): Promise<unknown> | undefined {
    const worker = this.worker;
    this.worker = undefined;
    this.settle(new Error('The key-generation thread was stopped.'));
    return worker?.terminate();
  }

  private start(): Worker {
    const worker = new Worker(workerUrl(), { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: KeygenReply) => {
      worker.unref();
      this.settle('pair' in reply ? undefined : new Error(reply.error), reply);
    });
    // A thread that dies fails its key; the next key starts a new thread.
    const fail = (error: unknown) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.settle(error ?? new Error('The key-generation thread ended.'));
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(undefined));
    this.worker = worker;
    return worker;
  }

  private settle(error: unknown, reply?: KeygenReply): void {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    if (reply && 'pair' in reply) pending.resolve(reply.pair);
    else pending.reject(error);
  }
}

export class KeygenPool {
  readonly threads: number;
  readonly queueLimit: number;
  private readonly generateOn: SlotGenerator;
  private readonly owned: KeygenThread[] = [];
  private readonly idle: number[];
  private waiting: WaitingKey[] = [];
  private running = 0;
  private readonly jobs = new Set<Job>();

  constructor(options: KeygenPoolOptions) {
    this.threads = Math.max(1, Math.floor(options.threads));
    this.queueLimit = Math.max(0, Math.floor(options.queueLimit));
    // Slots are taken from the end: slot 0 first, so one key at a time uses one thread.
    this.idle = Array.from({ length: this.threads }, (_, i) => this.threads - 1 - i);
    if (options.generateOn) {
      this.generateOn = options.generateOn;
    } else {
      for (let i = 0; i < this.threads; i++) this.owned.push(new KeygenThread());
      this.generateOn = (slot, bits) => (this.owned[slot] as KeygenThread).generate(bits);
    }
  }

  get load(): KeygenLoad {
    return {
      threads: this.threads,
      queue_limit: this.queueLimit,
      running: this.running,
      queued: this.waiting.length,
      calls: this.jobs.size,
    };
  }

  /**
   * `count` key pairs of `bits` bits, once threads are free for them. Rejects with KeygenBusy at
   * once when they would not fit in the queue, and with KeygenCancelled when `signal` aborts
   * first (their waiting keys are dropped; a key already being made is discarded).
   */
  generate(count: number, bits: KeyBits, signal?: AbortSignal): Promise<KeyPair[]> {
    if (signal?.aborted) return Promise.reject(new KeygenCancelled());
    if (count <= 0) return Promise.resolve([]);
    const outstanding = this.running + this.waiting.length;
    // An idle pool takes any call, so a call is never refused for its size alone.
    if (outstanding > 0 && outstanding + count > this.threads + this.queueLimit) {
      return Promise.reject(new KeygenBusy(this.jobs.size, outstanding));
    }
    return new Promise<KeyPair[]>((resolve, reject) => {
      const withdraw = () => this.fail(job, new KeygenCancelled());
      const job: Job = {
        count,
        pairs: [],
        settled: false,
        resolve,
        reject,
        forget: () => signal?.removeEventListener('abort', withdraw),
      };
      signal?.addEventListener('abort', withdraw, { once: true });
      this.jobs.add(job);
      for (let i = 0; i < count; i++) this.waiting.push({ job, bits });
      this.dispatch();
    });
  }

  /** Stops the threads; calls still waiting are failed. */
  async close(): Promise<void> {
    for (const job of [...this.jobs]) this.fail(job, new Error('The key generator was stopped.'));
    await Promise.all(this.owned.map((thread) => thread.close()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.waiting.length > 0) {
      const slot = this.idle.pop() as number;
      const { job, bits } = this.waiting.shift() as WaitingKey;
      this.running += 1;
      let made: Promise<KeyPair>;
      try {
        made = this.generateOn(slot, bits);
      } catch (error) {
        // E.g. a thread that cannot be started: that key fails, the slot is not lost.
        made = Promise.reject(error);
      }
      made.then(
        (pair) => this.finished(slot, job, pair),
        (error: unknown) => this.finished(slot, job, undefined, error),
      );
    }
  }

  private finished(slot: number, job: Job, pair?: KeyPair, error?: unknown): void {
    this.running -= 1;
    this.idle.push(slot);
    if (pair) {
      if (!job.settled) {
        job.pairs.push(pair);
        if (job.pairs.length === job.count) this.settle(job);
      }
    } else {
      this.fail(job, error);
    }
    this.dispatch();
  }

  private settle(job: Job): void {
    job.settled = true;
    job.forget();
    this.jobs.delete(job);
    job.resolve(job.pairs);
  }

  private fail(job: Job, error: unknown): void {
    if (job.settled) return;
    job.settled = true;
    job.forget();
    this.jobs.delete(job);
    this.waiting = this.waiting.filter((key) => key.job !== job);
    job.reject(error);
  }
}
