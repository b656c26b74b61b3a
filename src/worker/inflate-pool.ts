/// <reference lib="webworker" />
/**
 * Threads that inflate the members of an append-ready base while the base worker reads the tar
 * (docs/formats.md#append-ready-tgz, src/core/archive/members.ts): the MemberInflater the base
 * check gets in the page. Each member goes to a pool thread, which inflates it with the browser's
 * DecompressionStream and moves its output back (a transfer: nothing is copied, the thread keeps
 * nothing). The base worker's one tar reader reads that output in order and digests the files in
 * it itself: WebCrypto's digest of a file already in memory costs far less than sending it
 * anywhere. A thread that cannot start, or stops, leaves its work to the base worker.
 */
import { inflateMemberNative, type MemberInflater } from '../core/archive/members.ts';
import { defaultDigester, type Digester } from '../core/digest.ts';
import { CibError, type Problem } from '../core/problems.ts';

export interface PoolRequest {
  id: number;
  bytes: Uint8Array;
  offset: number;
  size: number;
}

export type PoolReply =
  | { id: number; ok: true; out: Uint8Array; ms: number }
  | { id: number; ok: false; message: string; problems?: Problem[] };

type Member = Parameters<MemberInflater>[0];

interface Inflating {
  /** The member, while this thread still has its own copy of it (undefined once moved). */
  member: Member | undefined;
  resolve: (out: Uint8Array) => void;
  reject: (error: unknown) => void;
}

interface PoolThread {
  worker: Worker;
  inflating: Map<number, Inflating>;
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
  /** Time the base worker spent in its digest calls (WebCrypto hashes during the call). */
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
        { id, bytes, offset: member.offset, size: member.size } satisfies PoolRequest,
        [bytes.buffer],
      );
    });
  };

  /** WebCrypto in this thread (else @noble/hashes), counted for the benchmark. */
  readonly digester: Digester = (algorithm, data) => {
    const start = performance.now();
    const hex = defaultDigester(algorithm, data);
    this.stats.digests++;
    this.stats.digestMs += performance.now() - start;
    return hex;
  };

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
    const thread: PoolThread = { worker, inflating: new Map(), dead: false, alive: false };
    worker.onmessage = (event: MessageEvent<PoolReply>) => {
      const reply = event.data;
      thread.alive = true;
      const task = thread.inflating.get(reply.id);
      if (!task) return;
      thread.inflating.delete(reply.id);
      if (reply.ok) {
        this.countInflate(reply.out.length, reply.ms);
        task.resolve(reply.out);
      } else {
        task.reject(reply.problems ? new CibError(reply.problems) : new Error(reply.message));
      }
    };
    worker.onerror = (event) => {
      // The thread could not start, or stopped: its work is done here instead.
      event.preventDefault();
      thread.dead = true;
      worker.terminate();
      for (const task of thread.inflating.values()) {
        if (task.member) this.inflateHere(task.member).then(task.resolve, task.reject);
        else task.reject(new Error('A thread inflating the base stopped; try again.'));
      }
      thread.inflating.clear();
    };
    return thread;
  }
}
