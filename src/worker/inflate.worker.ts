/// <reference lib="webworker" />
/**
 * One of the inflate pool's threads (inflate-pool.ts): inflates whole gzip members with the
 * platform's DecompressionStream, hands a copy of the output back, and keeps its own until the
 * base worker has read the member, to digest the files the base worker names in it (WebCrypto's
 * digest runs on the calling thread). It sees only a base's bytes, never a key.
 */
import { inflateMemberNative } from '../core/archive/members.ts';
import { CibError } from '../core/problems.ts';
import type { PoolReply, PoolRequest } from './inflate-pool.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
/** Each member's output, by member id, until the base worker releases it. */
const kept = new Map<number, Uint8Array>();

function hex(digest: ArrayBuffer): string {
  let out = '';
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, '0');
  return out;
}

async function answer(
  request: PoolRequest,
): Promise<{ reply: PoolReply; transfer: Transferable[] }> {
  const start = performance.now();
  switch (request.op) {
    case 'inflate': {
      const out = await inflateMemberNative(request);
      kept.set(request.id, out);
      const copy = out.slice(); // the base worker's own, moved to it without another copy
      return {
        reply: {
          op: 'inflate',
          id: request.id,
          ok: true,
          out: copy,
          ms: performance.now() - start,
        },
        transfer: [copy.buffer],
      };
    }
    case 'digest': {
      const out = kept.get(request.id);
      if (request.release) kept.delete(request.id);
      if (!out) throw new Error('This member is no longer held.');
      const digests = await Promise.all(
        request.items.map(([algorithm, offset, length]) =>
          crypto.subtle
            .digest(algorithm, out.subarray(offset, offset + length) as Uint8Array<ArrayBuffer>)
            .then(hex),
        ),
      );
      return {
        reply: { op: 'digest', id: request.id, ok: true, digests, ms: performance.now() - start },
        transfer: [],
      };
    }
    case 'release':
      kept.clear();
      return { reply: { op: 'release', id: request.id, ok: true }, transfer: [] };
  }
}

/** Requests are answered one at a time, in order: the base worker reads the members in order. */
let turn: Promise<void> = Promise.resolve();

scope.onmessage = (event: MessageEvent<PoolRequest>) => {
  const request = event.data;
  turn = turn.then(async () => {
    try {
      const { reply, transfer } = await answer(request);
      scope.postMessage(reply, transfer);
    } catch (error) {
      scope.postMessage({
        op: request.op,
        id: request.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
        ...(error instanceof CibError ? { problems: error.problems } : {}),
      } satisfies PoolReply);
    }
  });
};
