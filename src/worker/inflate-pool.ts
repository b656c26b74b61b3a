/// <reference lib="webworker" />
/**
 * Threads that inflate the members of an append-ready base and digest the files in them while
 * the base worker reads the tar (docs/formats.md#append-ready-tgz, src/core/archive/members.ts):
 * the MemberInflater and the Digester the base check gets in the page. Each member is copied to a
 * pool thread, which sends a copy of its output back and keeps its own; the base worker's one tar
 * reader finds the files in that copy, and the digests of those files (WebCrypto's run on the
 * calling thread) are then asked of the thread holding the member, in one message per member. A
 * thread that cannot start, or stops, leaves its work to the base worker.
 */
import { inflateMemberNative, type MemberInflater } from '../core/archive/members.ts';
import { defaultDigester, type DigestAlgorithm, type Digester } from '../core/digest.ts';
import { CibError, type Problem } from '../core/problems.ts';

export type PoolRequest =
  | { op: 'inflate'; id: number; bytes: Uint8Array; offset: number; size: number }
  /** Digests of `[algorithm, offset, length]` ranges of member `id`'s output. */
  | { op: 'digest'; id: number; items: [DigestAlgorithm, number, number][]; release: boolean }
  /** Forget every member held. */
  | { op: 'release'; id: number };

export type PoolReply =
  | { op: 'inflate'; id: number; ok: true; out: Uint8Array; ms: number }
  | { op: 'digest'; id: number; ok: true; digests: string[]; ms: number }
  | { op: 'release'; id: number; ok: true }
  | { op: PoolRequest['op']; id: number; ok: false; message: string; problems?: Problem[] };

type Member = Parameters<MemberInflater>[0];

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
 * One thread per core but one (the page's main thread keeps a core: no task of 50 ms or more while
 * a base is checked), at least 1 and at most 4. On this project's shared 2-core machine under load,
 * two threads gave main-thread tasks of up to 236 ms over the 50 Mbit/s link against up to 68 ms
 * with one, for little faster checks.
 */
export function poolSize(): number {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 2;
  return Math.min(4, Math.max(1, cores - 1));
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
  /** Which thread holds the member each output copy came from. */
  private origins = new WeakMap<ArrayBufferLike, { thread: PoolThread; id: number }>();
  /** Digests asked for, per member, not sent yet. */
  private batches = new Map<number, { thread: PoolThread; items: DigestItem[] }>();

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

  /** Files inside a member's output are digested by the thread holding it; others here. */
  readonly digester: Digester = (algorithm, data) => {
    const origin = this.origins.get(data.buffer);
    if (!origin || origin.thread.dead) return defaultDigester(algorithm, data);
    let batch = this.batches.get(origin.id);
    if (!batch) this.batches.set(origin.id, (batch = { thread: origin.thread, items: [] }));
    return new Promise<string>((resolve, reject) =>
      batch.items.push({ algorithm, data, resolve, reject }),
    );
  };

  /** The walk has read this member: its digests go out, and its thread may let it go after them. */
  readonly memberRead = (out: Uint8Array): void => {
    const origin = this.origins.get(out.buffer);
    if (!origin) return;
    this.origins.delete(out.buffer);
    const batch = this.batches.get(origin.id);
    this.batches.delete(origin.id);
    const items = batch?.items ?? [];
    const { thread, id } = origin;
    if (thread.dead) return this.digestHere(items);
    thread.digesting.set(id, items);
    thread.worker.postMessage({
      op: 'digest',
      id,
      items: items.map((item) => [item.algorithm, item.data.byteOffset, item.data.byteLength]),
      release: true,
    } satisfies PoolRequest);
  };

  /** The check is over: every thread forgets what it holds (a walk that stopped early). */
  release(): void {
    for (const [, batch] of this.batches) this.digestHere(batch.items);
    this.batches.clear();
    for (const thread of this.threads) {
      if (!thread.dead) thread.worker.postMessage({ op: 'release', id: 0 } satisfies PoolRequest);
    }
  }

  private async inflateHere(member: Member): Promise<Uint8Array> {
    const start = performance.now();
    const out = await inflateMemberNative(member);
    this.countInflate(out.length, performance.now() - start);
    return out;
  }

  private digestHere(items: DigestItem[]): void {
    for (const item of items) {
      Promise.resolve(defaultDigester(item.algorithm, item.data)).then(item.resolve, item.reject);
    }
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
      const reply = event.data;
      thread.alive = true;
      if (reply.op === 'inflate') {
        const task = thread.inflating.get(reply.id);
        if (!task) return;
        thread.inflating.delete(reply.id);
        if (reply.ok) {
          this.countInflate(reply.out.length, reply.ms);
          this.origins.set(reply.out.buffer, { thread, id: reply.id });
          task.resolve(reply.out);
        } else {
          task.reject(reply.problems ? new CibError(reply.problems) : new Error(reply.message));
        }
      } else if (reply.op === 'digest') {
        const items = thread.digesting.get(reply.id);
        if (!items) return;
        thread.digesting.delete(reply.id);
        if (!reply.ok) return this.digestHere(items); // the bytes are still here
        this.stats.digests += items.length;
        this.stats.digestMs += reply.ms;
        items.forEach((item, i) => item.resolve(reply.digests[i]!));
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
      for (const items of thread.digesting.values()) this.digestHere(items);
      thread.digesting.clear();
    };
    return thread;
  }
}
