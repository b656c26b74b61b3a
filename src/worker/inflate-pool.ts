/// <reference lib="webworker" />
/**
 * Threads that inflate the members of an append-ready base and digest the files in them while
 * the base worker reads the tar (docs/formats.md#append-ready-tgz, src/core/archive/members.ts):
 * the MemberInflater and the Digester the base check gets in the page. Each member goes to a pool
 * thread, which inflates it with the browser's DecompressionStream and moves its output to the
 * base worker (a transfer: nothing is copied). The base worker's one tar reader reads it there;
 * the digests of the files it found in it are asked for as it reads, and once it has read the
 * member, its bytes move back to the thread with the list of files to digest (WebCrypto hashes on
 * the calling thread, so this takes the hashing off the base worker). A thread that cannot start,
 * or stops, leaves its work to the base worker.
 */
import { inflateMemberNative, type MemberInflater } from '../core/archive/members.ts';
import { defaultDigester, type DigestAlgorithm, type Digester } from '../core/digest.ts';
import { CibError, problem, type Problem } from '../core/problems.ts';
import { BufferShelf } from './buffer-shelf.ts';

/** A pool thread ended with work in hand (`base.thread.stopped`): the person may simply try again. */
function stopped(doing: 'inflating' | 'checking'): CibError {
  return new CibError(
    problem('base.thread.stopped', '', `A thread ${doing} the base stopped; try again.`),
  );
}

export type PoolRequest =
  | { op: 'inflate'; id: number; bytes: Uint8Array; offset: number; size: number }
  /**
   * Digests of `[algorithm, offset, length]` ranges of `bytes` (a member's output, moved back;
   * sent with no ranges too, so the thread may write a later member's output into it).
   */
  | { op: 'digest'; id: number; bytes: Uint8Array; items: [DigestAlgorithm, number, number][] }
  /**
   * The whole base, moved here: its SHA-256, and a Blob of its bytes from `from` on (those before
   * are in pieces made already), and the bytes moved back.
   */
  | { op: 'whole'; id: number; bytes: Uint8Array; from: number };

export type PoolReply =
  /** `input`: the member's compressed bytes, moved back for the next member to be copied into. */
  | { op: 'inflate'; id: number; ok: true; out: Uint8Array; input: Uint8Array; ms: number }
  | { op: 'digest'; id: number; ok: true; digests: string[]; ms: number }
  | { op: 'whole'; id: number; ok: true; bytes: Uint8Array; sha256: string; blob: Blob }
  | { op: PoolRequest['op']; id: number; ok: false; message: string; problems?: Problem[] };

type Member = Parameters<MemberInflater>[0];

/** The whole base after `InflatePool.whole`: its bytes (moved back), SHA-256, and a Blob of its bytes from `from` on. */
export interface WholeBase {
  bytes: Uint8Array;
  sha256: string;
  blob: Blob;
}

interface WholeJob {
  resolve: (whole: WholeBase) => void;
  reject: (error: unknown) => void;
}

interface Inflating {
  /** The member, while this thread still has its own copy of it (undefined once moved). */
  member: Member | undefined;
  resolve: (out: Uint8Array) => void;
  reject: (error: unknown) => void;
}

interface DigestItem {
  algorithm: DigestAlgorithm;
  data: Uint8Array;
  resolve: (hex: string) => void;
  reject: (error: unknown) => void;
}

interface PoolThread {
  worker: Worker;
  inflating: Map<number, Inflating>;
  digesting: Map<number, DigestItem[]>;
  dead: boolean;
  /** It has answered once: members may be moved to it rather than copied. */
  alive: boolean;
}

/** How the pool's time went, for the page's benchmark (README, "The page's speed"). */
export interface PoolStats {
  threads: number;
  members: number;
  inflatedBytes: number;
  /** Sum over members of the time a thread spent inflating each (they overlap). */
  inflateMs: number;
  digests: number;
  /** Sum over members of the time a thread spent digesting its files. */
  digestMs: number;
}

/**
 * One thread per core, at most 4. On a 2-core machine that is two: while the base arrives the
 * base worker shares the cores with them, and once the last byte is in, inflating is all that is
 * left (README, "The page's speed", for what one and two threads measured).
 */
export function poolSize(): number {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 2;
  return Math.min(4, Math.max(1, cores));
}

export class InflatePool {
  readonly stats: PoolStats = {
    threads: 0,
    members: 0,
    inflatedBytes: 0,
    inflateMs: 0,
    digests: 0,
    digestMs: 0,
  };
  private threads: PoolThread[] = [];
  private nextId = 1;
  private next = 0;
  /** The thread each member's output came from, by its buffer. */
  private origins = new WeakMap<ArrayBufferLike, PoolThread>();
  /** Digests asked for, per member's buffer, not sent yet. */
  private batches = new Map<ArrayBufferLike, DigestItem[]>();
  /** Members' compressed bytes, moved back from the threads once inflated, to copy the next into. */
  private inputs = new BufferShelf(16, 16 << 20);
  /** A thread of its own for the whole base's SHA-256 and Blob (`whole`), once it has answered. */
  private wholeThread: { worker: Worker; alive: boolean; dead: boolean } | undefined;
  private wholeJobs = new Map<number, WholeJob>();

  constructor(private readonly size: number = poolSize()) {}

  /** Starts the threads ahead of the first member, so their start-up overlaps the download. */
  warm(): void {
    if (this.threads.length > 0 || typeof Worker !== 'function') return;
    for (let i = 0; i < this.size; i++) {
      try {
        this.threads.push(this.start());
      } catch {
        break; // no nested workers here: members inflate in this thread
      }
    }
    this.stats.threads = this.threads.length;
    if (this.threads.length > 0) this.startWholeThread();
  }

  /**
   * The whole base's SHA-256 and a Blob of it, made on a thread of their own while the walk reads
   * the last members here: each is a pass over every byte, which in the base worker would hold up
   * the walk (and the network read). The bytes are moved there and back, so nothing may read them
   * until this resolves. `blob` holds the bytes from `from` on. Undefined when that thread is not
   * running: the caller does it itself.
   */
  whole(bytes: Uint8Array, from: number): Promise<WholeBase> | undefined {
    const thread = this.wholeThread;
    if (!thread?.alive || thread.dead) return undefined;
    const id = this.nextId++;
    return new Promise<WholeBase>((resolve, reject) => {
      this.wholeJobs.set(id, { resolve, reject });
      thread.worker.postMessage({ op: 'whole', id, bytes, from } satisfies PoolRequest, [
        bytes.buffer,
      ]);
    });
  }

  private startWholeThread(): void {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./inflate.worker.ts', import.meta.url), {
        type: 'module',
        name: 'cib-whole',
      });
    } catch {
      return;
    }
    const thread = { worker, alive: false, dead: false };
    this.wholeThread = thread;
    worker.onmessage = (event: MessageEvent<PoolReply>) => {
      thread.alive = true;
      const reply = event.data;
      const job = this.wholeJobs.get(reply.id);
      if (!job) return;
      this.wholeJobs.delete(reply.id);
      if (reply.ok && reply.op === 'whole') job.resolve(reply);
      else if (!reply.ok)
        job.reject(new CibError(problem('base.digest.failed', '', reply.message)));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      thread.dead = true;
      worker.terminate();
      for (const job of this.wholeJobs.values()) job.reject(stopped('checking'));
      this.wholeJobs.clear();
    };
    // An empty digest request: its answer shows the thread runs, before bytes are moved to it.
    worker.postMessage({
      op: 'digest',
      id: 0,
      bytes: new Uint8Array(0),
      items: [],
    } satisfies PoolRequest);
  }

  readonly inflate: MemberInflater = (member) => {
    this.warm();
    const live = this.threads.filter((t) => !t.dead);
    if (live.length === 0) return this.inflateHere(member);
    // Round robin: members are of similar size, and arrive in order.
    const thread = live[this.next++ % live.length]!;
    const id = this.nextId++;
    // A member joined from several chunks is moved to the thread; a view into the received base
    // is copied, and so is every member until the thread has shown it runs (so a thread that
    // cannot start leaves its members here to inflate).
    const move = member.owned === true && thread.alive;
    const bytes = move ? member.bytes : member.bytes.slice();
    return new Promise<Uint8Array>((resolve, reject) => {
      thread.inflating.set(id, { member: move ? undefined : member, resolve, reject });
      thread.worker.postMessage(
        {
          op: 'inflate',
          id,
          bytes,
          offset: member.offset,
          size: member.size,
        } satisfies PoolRequest,
        [bytes.buffer],
      );
    });
  };

  /** Files inside a member's output are digested by a pool thread once it is read; others here. */
  readonly digester: Digester = (algorithm, data) => {
    const thread = this.origins.get(data.buffer);
    if (!thread || thread.dead) return defaultDigester(algorithm, data);
    const batch = this.batches.get(data.buffer) ?? [];
    this.batches.set(data.buffer, batch);
    return new Promise<string>((resolve, reject) =>
      batch.push({ algorithm, data, resolve, reject }),
    );
  };

  /**
   * Where the walk copies each member's compressed bytes (WalkOptions.allocate): buffers the
   * threads moved back, so members are written into memory already in use (buffer-shelf.ts).
   */
  readonly allocate = (length: number): Uint8Array => this.inputs.take(length);

  /**
   * The walk has read this member: its bytes move back to its thread with the files to digest,
   * or with none, for the thread to write a later member's output into.
   */
  readonly memberRead = (out: Uint8Array): void => {
    const thread = this.origins.get(out.buffer);
    const batch = this.batches.get(out.buffer) ?? [];
    this.batches.delete(out.buffer);
    this.origins.delete(out.buffer);
    if (!thread) return;
    if (thread.dead) return this.digestHere(batch);
    const id = this.nextId++;
    thread.digesting.set(id, batch);
    const items = batch.map(
      ({ algorithm, data }) =>
        [algorithm, data.byteOffset - out.byteOffset, data.byteLength] as [
          DigestAlgorithm,
          number,
          number,
        ],
    );
    thread.worker.postMessage({ op: 'digest', id, bytes: out, items } satisfies PoolRequest, [
      out.buffer,
    ]);
  };

  /** The walk is over: digests of members it did not finish reading are made here. */
  release(): void {
    for (const batch of this.batches.values()) this.digestHere(batch);
    this.batches.clear();
  }

  private digestHere(batch: DigestItem[]): void {
    for (const item of batch) {
      Promise.resolve(defaultDigester(item.algorithm, item.data)).then(item.resolve, item.reject);
    }
  }

  private async inflateHere(member: Member): Promise<Uint8Array> {
    const start = performance.now();
    const out = await inflateMemberNative(member);
    this.countInflate(out.length, performance.now() - start);
    return out;
  }

  private countInflate(bytes: number, ms: number): void {
    this.stats.members++;
    this.stats.inflatedBytes += bytes;
    this.stats.inflateMs += ms;
  }

  private start(): PoolThread {
    const worker = new Worker(new URL('./inflate.worker.ts', import.meta.url), {
      type: 'module',
      name: 'cib-inflate',
    });
    const thread: PoolThread = {
      worker,
      inflating: new Map(),
      digesting: new Map(),
      dead: false,
      alive: false,
    };
    worker.onmessage = (event: MessageEvent<PoolReply>) => {
      thread.alive = true;
      if (event.data.op === 'inflate') this.inflated(thread, event.data);
      else this.digested(thread, event.data);
    };
    worker.onerror = (event) => {
      // The thread could not start, or stopped: its work is done here instead.
      event.preventDefault();
      thread.dead = true;
      worker.terminate();
      for (const task of thread.inflating.values()) {
        if (task.member) this.inflateHere(task.member).then(task.resolve, task.reject);
        else task.reject(stopped('inflating'));
      }
      thread.inflating.clear();
      // The bytes of members sent back to digest went with the thread.
      for (const items of thread.digesting.values()) {
        for (const item of items) item.reject(stopped('checking'));
      }
      thread.digesting.clear();
    };
    return thread;
  }

  private inflated(thread: PoolThread, reply: PoolReply): void {
    const task = thread.inflating.get(reply.id);
    if (!task) return;
    thread.inflating.delete(reply.id);
    if (reply.ok && reply.op === 'inflate') {
      this.inputs.give(reply.input.buffer);
      this.countInflate(reply.out.length, reply.ms);
      this.origins.set(reply.out.buffer, thread);
      task.resolve(reply.out);
    } else if (!reply.ok) {
      task.reject(
        new CibError(reply.problems ?? problem('base.inflate.failed', '', reply.message)),
      );
    }
  }

  private digested(thread: PoolThread, reply: PoolReply): void {
    const items = thread.digesting.get(reply.id);
    if (!items) return;
    thread.digesting.delete(reply.id);
    if (reply.ok && reply.op === 'digest') {
      this.stats.digests += items.length;
      this.stats.digestMs += reply.ms;
      items.forEach((item, i) => item.resolve(reply.digests[i]!));
    } else if (!reply.ok) {
      const error = new CibError(problem('base.digest.failed', '', reply.message));
      for (const item of items) item.reject(error);
    }
  }
}
