import { describe, expect, it } from 'vitest';
import type { KeyPair } from '../../src/core/keygen.ts';
import { parsePrivateKey, parsePublicKey } from '../../src/core/keys.ts';
import type { KeyBits } from '../../src/core/deployment-settings.ts';
import {
  KeygenBusy,
  KeygenCancelled,
  KeygenPool,
  type SlotGenerator,
} from '../../src/server/keygen-pool.ts';

/** Keys that are made only when the test lets each one go, in the order asked for. */
function heldKeys() {
  const asked: { slot: number; release: () => void }[] = [];
  let made = 0;
  const generateOn: SlotGenerator = (slot) =>
    new Promise<KeyPair>((resolve) => {
      asked.push({
        slot,
        release: () => {
          made += 1;
          resolve({ publicKey: `65537 ${made}`, privateKey: `private ${made}` });
        },
      });
    });
  return {
    generateOn,
    asked,
    /** Lets the oldest held key finish, and waits until the pool has handed out the next. */
    async releaseNext() {
      const next = asked.shift();
      if (!next) throw new Error('no key is being generated');
      next.release();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

describe('the key-generation pool', () => {
  it('generates on every thread, queues up to its bound, refuses beyond, and drops a withdrawn call', async () => {
    const keys = heldKeys();
    const pool = new KeygenPool({ threads: 2, queueLimit: 3, generateOn: keys.generateOn });
    const a = pool.generate(2, 1024);
    // Both of A's keys are with a thread at once.
    expect(keys.asked.map((k) => k.slot).sort()).toEqual([0, 1]);
    expect(pool.load).toEqual({ threads: 2, queue_limit: 3, running: 2, queued: 0, calls: 1 });

    const gone = new AbortController();
    const b = pool.generate(2, 1024, gone.signal);
    const c = pool.generate(1, 1024);
    expect(pool.load).toMatchObject({ running: 2, queued: 3, calls: 3 });
    // D's key would make four wait: refused at once, with what the pool is doing.
    await expect(pool.generate(1, 1024)).rejects.toSatisfy(
      (error) => error instanceof KeygenBusy && error.calls === 3 && error.keys === 5,
    );

    gone.abort();
    await expect(b).rejects.toBeInstanceOf(KeygenCancelled);
    expect(pool.load).toMatchObject({ running: 2, queued: 1, calls: 2 });

    await keys.releaseNext();
    // A's first key is made; C's key took the freed thread before anything else could.
    const late = pool.generate(1, 1024);
    expect(pool.load).toMatchObject({ running: 2, queued: 1, calls: 3 });
    await keys.releaseNext();
    expect(await a).toHaveLength(2);
    await keys.releaseNext();
    expect(await c).toEqual([expect.objectContaining({ publicKey: '65537 3' })]);
    await keys.releaseNext();
    expect(await late).toEqual([expect.objectContaining({ publicKey: '65537 4' })]);
    expect(pool.load).toMatchObject({ running: 0, queued: 0, calls: 0 });
    expect(keys.asked).toEqual([]);
  });

  it('takes any call when idle, so no call is refused for its size alone', async () => {
    const keys = heldKeys();
    const pool = new KeygenPool({ threads: 1, queueLimit: 0, generateOn: keys.generateOn });
    const big = pool.generate(5, 1024);
    expect(pool.load).toMatchObject({ running: 1, queued: 4 });
    await expect(pool.generate(1, 1024)).rejects.toBeInstanceOf(KeygenBusy);
    for (let i = 0; i < 5; i++) await keys.releaseNext();
    expect(await big).toHaveLength(5);
  });

  it('discards a key made for a call whose client left, and refuses a call already withdrawn', async () => {
    const keys = heldKeys();
    const pool = new KeygenPool({ threads: 1, queueLimit: 1, generateOn: keys.generateOn });
    const gone = new AbortController();
    const left = pool.generate(1, 1024, gone.signal);
    gone.abort();
    await expect(left).rejects.toBeInstanceOf(KeygenCancelled);
    // The thread is still busy with the key nobody wants; the next call waits for it.
    const next = pool.generate(1, 1024);
    expect(pool.load).toMatchObject({ running: 1, queued: 1, calls: 1 });
    await keys.releaseNext();
    await keys.releaseNext();
    expect(await next).toEqual([expect.objectContaining({ publicKey: '65537 2' })]);
    await expect(pool.generate(1, 1024, AbortSignal.abort())).rejects.toBeInstanceOf(
      KeygenCancelled,
    );
  });

  it('keeps its thread when one cannot make a key at all', async () => {
    let broken = true;
    const pool = new KeygenPool({
      threads: 1,
      queueLimit: 0,
      generateOn: () => {
        if (broken) throw new Error('no thread could be started');
        return Promise.resolve({ publicKey: '65537 7', privateKey: 'private 7' });
      },
    });
    await expect(pool.generate(2, 1024)).rejects.toThrow('no thread could be started');
    expect(pool.load).toMatchObject({ running: 0, queued: 0, calls: 0 });
    broken = false;
    expect(await pool.generate(1, 1024)).toHaveLength(1);
  });

  it('makes sound key pairs on its worker threads, and survives a key that fails', async () => {
    const pool = new KeygenPool({ threads: 2, queueLimit: 8 });
    try {
      const pairs = await pool.generate(3, 1024);
      expect(new Set(pairs.map((p) => p.publicKey)).size).toBe(3);
      for (const pair of pairs) {
        const { e, n } = parsePublicKey(pair.publicKey).key!;
        const { d, p, q } = parsePrivateKey(pair.privateKey).key!;
        expect(e).toBe(65537n);
        expect(p * q).toBe(n);
        expect(n.toString(2)).toHaveLength(1024);
        // e·d = 1 modulo lcm(p-1, q-1): decrypting undoes encrypting.
        const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));
        const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
        expect((e * d) % lambda).toBe(1n);
      }
      // A size the generator refuses fails that call only; the pool goes on.
      await expect(pool.generate(1, 8 as KeyBits)).rejects.toThrow();
      expect(pool.load).toMatchObject({ running: 0, queued: 0, calls: 0 });
      expect(await pool.generate(1, 1024)).toHaveLength(1);
    } finally {
      await pool.close();
    }
  });
});
