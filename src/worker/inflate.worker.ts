/// <reference lib="webworker" />
/**
 * One of the inflate pool's threads (inflate-pool.ts): inflates whole gzip members with the
 * platform's DecompressionStream and moves the output back to the base worker, keeping nothing.
 * It sees only a base's bytes, never a key.
 */
import { inflateMemberNative } from '../core/archive/members.ts';
import { CibError } from '../core/problems.ts';
import type { PoolReply, PoolRequest } from './inflate-pool.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

/** Members are inflated one at a time, in order: the base worker reads them in order. */
let turn: Promise<void> = Promise.resolve();

scope.onmessage = (event: MessageEvent<PoolRequest>) => {
  const request = event.data;
  turn = turn.then(async () => {
    const start = performance.now();
    try {
      const out = await inflateMemberNative(request);
      const ms = performance.now() - start;
      scope.postMessage({ id: request.id, ok: true, out, ms } satisfies PoolReply, [out.buffer]);
    } catch (error) {
      scope.postMessage({
        id: request.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
        ...(error instanceof CibError ? { problems: error.problems } : {}),
      } satisfies PoolReply);
    }
  });
};
