/**
 * A fixed number of worker threads running one task each at a time, in arrival order. Threads
 * start on first use and never keep the process alive while idle; a thread that dies fails its
 * task and is replaced on the next.
 */
import { Worker, type Transferable } from 'node:worker_threads';
import { workerUrl } from './worker-url.ts';

interface Task<Request, Reply> {
  request: Request;
  transfer: Transferable[];
  resolve: (reply: Reply) => void;
  reject: (error: unknown) => void;
}

interface Thread<Request, Reply> {
  worker?: Worker;
  task?: Task<Request, Reply>;
}

export class WorkerPool<Request, Reply> {
  private readonly threads: Thread<Request, Reply>[];
  private readonly queue: Task<Request, Reply>[] = [];

  constructor(
    private readonly module: string,
    size: number,
  ) {
    this.threads = Array.from({ length: Math.max(1, size) }, () => ({}));
  }

  /** Tasks running now, and tasks waiting for a thread. */
  get load(): { running: number; queued: number } {
    return { running: this.threads.filter((t) => t.task).length, queued: this.queue.length };
  }

  run(request: Request, transfer: Transferable[] = []): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.queue.push({ request, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread (waiting tasks stay queued and start new ones when run again). */
  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker?.terminate()));
  }

  private dispatch(): void {
    for (const thread of this.threads) {
      if (this.queue.length === 0) return;
      if (thread.task) continue;
      const task = this.queue.shift()!;
      thread.task = task;
      const worker = thread.worker ?? this.start(thread);
      worker.ref();
      worker.postMessage(task.request, task.transfer);
    }
  }

  private start(thread: Thread<Request, Reply>): Worker {
    const worker = new Worker(workerUrl(this.module), { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: Reply) => this.finish(thread, (task) => task.resolve(reply)));
    const fail = (error: unknown) => {
      if (thread.worker !== worker) return;
      thread.worker = undefined;
      this.finish(thread, (task) =>
        task.reject(error ?? new Error(`The ${this.module} thread ended.`)),
      );
    };
    worker.on('error', fail);
    worker.on('exit', () => fail(undefined));
    thread.worker = worker;
    return worker;
  }

  private finish(thread: Thread<Request, Reply>, settle: (task: Task<Request, Reply>) => void) {
    const task = thread.task;
    thread.task = undefined;
    if (task) settle(task);
    if (this.queue.length === 0) thread.worker?.unref();
    this.dispatch();
  }
}
