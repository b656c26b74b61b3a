/// <reference lib="webworker" />
/**
 * One of the inflate pool's threads (inflate-pool.ts): inflates whole gzip members with the
 * platform's DecompressionStream and moves the output to the base worker, with the member's own
 * bytes; once that has read a member, its output comes back with the files to digest (WebCrypto
 * hashes on the calling thread), and its buffer is then written with a later member's output
 * (buffer-shelf.ts). It sees only a base's bytes, never a key.
 */
import { inflateMemberNative } from '../core/archive/members.ts';
import { CibError } from '../core/problems.ts';
import { BufferShelf } from './buffer-shelf.ts';
import { piecedBlob } from './pieced-blob.ts';
import type { PoolReply, PoolRequest } from './inflate-pool.ts';

/** Outputs come back after their digests; a few are enough for the members in flight. */
const outputs = new BufferShelf(8, 16 << 20);

const scope = self as unknown as DedicatedWorkerGlobalScope;

function hex(digest: ArrayBuffer): string {
  let out = '';
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, '0');
  return out;
}

async function answer(request: PoolRequest): Promise<PoolReply> {
  const start = performance.now();
  if (request.op === 'inflate') {
    const out = await inflateMemberNative(request, outputs.take(request.size));
    const { id, bytes: input } = request;
    return { op: 'inflate', id, ok: true, out, input, ms: performance.now() - start };
  }
  if (request.op === 'whole') {
    const { id, bytes, from } = request;
    const blob = piecedBlob(bytes.subarray(from));
    const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
    return { op: 'whole', id, ok: true, bytes, sha256, blob };
  }
  const { bytes } = request;
  const digests = await Promise.all(
    request.items.map(([algorithm, offset, length]) =>
      crypto.subtle
        .digest(algorithm, bytes.subarray(offset, offset + length) as Uint8Array<ArrayBuffer>)
        .then(hex),
    ),
  );
  outputs.give(bytes.buffer);
  return { op: 'digest', id: request.id, ok: true, digests, ms: performance.now() - start };
}

/** Requests are answered one at a time, in order: the base worker reads the members in order. */
let turn: Promise<void> = Promise.resolve();

scope.onmessage = (event: MessageEvent<PoolRequest>) => {
  const request = event.data;
  turn = turn.then(async () => {
    try {
      const reply = await answer(request);
      scope.postMessage(
        reply,
        !reply.ok
          ? []
          : reply.op === 'inflate'
            ? [reply.out.buffer, reply.input.buffer]
            : reply.op === 'whole'
              ? [reply.bytes.buffer]
              : [],
      );
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
