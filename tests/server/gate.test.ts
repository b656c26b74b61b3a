import { describe, expect, it } from 'vitest';
import { ClientGone, FaultCode, Gate } from '../../src/server/xmlrpc.ts';

/** A task that runs until the test lets it finish. */
function held() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  let started = false;
  return {
    task: async () => {
      started = true;
      await done;
      return 'done';
    },
    finish,
    get started() {
      return started;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('the key-generation gate', () => {
  it('runs one at a time, queues one, answers busy beyond, and drops a call whose client left', async () => {
    const gate = new Gate(1, 1);
    const a = held();
    const b = held();
    const c = held();
    const running = gate.run(a.task);
    const gone = new AbortController();
    const waiting = gate.run(b.task, gone.signal);
    expect(gate.load).toEqual({ running: 1, queued: 1 });
    await expect(gate.run(held().task)).rejects.toMatchObject({
      faultCode: FaultCode.SERVER_BUSY,
    });
    gone.abort();
    await expect(waiting).rejects.toBeInstanceOf(ClientGone);
    expect(gate.load).toEqual({ running: 1, queued: 0 });
    const next = gate.run(c.task);
    expect(gate.load).toEqual({ running: 1, queued: 1 });

    a.finish();
    expect(await running).toBe('done');
    // The slot went straight to the waiting call: one arriving now must queue, not run.
    const late = held();
    const lateRun = gate.run(late.task);
    await tick();
    expect(c.started).toBe(true);
    expect(late.started).toBe(false);
    expect(b.started).toBe(false);
    expect(gate.load).toEqual({ running: 1, queued: 1 });
    c.finish();
    await next;
    await tick();
    expect(late.started).toBe(true);
    late.finish();
    await lateRun;
    expect(gate.load).toEqual({ running: 0, queued: 0 });
  });

  it('refuses a call whose client has already gone', async () => {
    const gone = new AbortController();
    gone.abort();
    await expect(new Gate(1, 1).run(held().task, gone.signal)).rejects.toBeInstanceOf(ClientGone);
  });
});
