/** Node's native hashes, for the callers that hash on a hot path (build ids, base checksums). */
import { createHash } from 'node:crypto';
import type { Digester } from '../core/digest.ts';
import { forEachFilePiece } from './files.ts';

/** SHA-1 of the UTF-8 text as 40 lowercase hex digits: the hash `buildId` takes. */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

/** SHA-256 of the bytes as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** `stream` passed through unchanged, with the SHA-256 of every byte that went by. */
export function sha256Through(stream: ReadableStream<Uint8Array>): {
  stream: ReadableStream<Uint8Array>;
  /** How many bytes went by. */
  length(): number;
  digest(): string;
} {
  const hash = createHash('sha256');
  let length = 0;
  return {
    stream: stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          hash.update(chunk);
          length += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    ),
    length: () => length,
    digest: () => hash.digest('hex'),
  };
}

/** `chunks` passed through unchanged, with the SHA-256 of every byte that went by. */
export function sha256Chunks(chunks: AsyncIterable<Uint8Array>): {
  chunks: AsyncIterable<Uint8Array>;
  /** How many bytes went by. */
  length(): number;
  digest(): string;
} {
  const hash = createHash('sha256');
  let length = 0;
  return {
    chunks: (async function* () {
      for await (const chunk of chunks) {
        hash.update(chunk);
        length += chunk.length;
        yield chunk;
      }
    })(),
    length: () => length,
    digest: () => hash.digest('hex'),
  };
}

/** Node's digests for the software check (core/digest.ts): synchronous, no promise per file. */
export const nodeDigester: Digester = (algorithm, data) =>
  createHash(algorithm === 'SHA-1' ? 'sha1' : 'sha256')
    .update(data)
    .digest('hex');

/** The SHA-256 of a file, read in pieces. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  forEachFilePiece(file, (piece) => hash.update(piece));
  return hash.digest('hex');
}
