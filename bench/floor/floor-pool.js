/**
 * A thread of bench:browser's floor (floor-worker.js): inflates one gzip member with the
 * browser's DecompressionStream into a buffer of its size, then digests every regular file of
 * the tar in it with SHA-1 (one WebCrypto call per file, as the page's check does). Its output
 * buffers are written again for later members, and the member's bytes moved back, as the page's
 * threads do (src/worker/buffer-shelf.ts).
 */
import { bufferFor } from './floor-shelf.js';

const decoder = new TextDecoder();

/** Output buffers to write again. */
const shelf = [];

async function inflate(bytes, size) {
  const out = bufferFor(shelf, size);
  let at = 0;
  const inflater = new DecompressionStream('gzip');
  const writer = inflater.writable.getWriter();
  const writing = writer.write(bytes).then(() => writer.close());
  const reader = inflater.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out.set(value, at);
    at += value.length;
  }
  await writing;
  return out;
}

/** [offset, length] of each regular file's data in a run of ustar entries. */
function regularFiles(tar) {
  const files = [];
  let at = 0;
  while (at + 512 <= tar.length && tar[at] !== 0) {
    const field = decoder.decode(tar.subarray(at + 124, at + 136)).replace(/\0.*$/s, '');
    const size = parseInt(field.trim() || '0', 8);
    const type = tar[at + 156];
    at += 512;
    if (type === 0x30 || type === 0) files.push([at, size]);
    at += Math.ceil(size / 512) * 512;
  }
  return files;
}

let turn = Promise.resolve();
self.onmessage = (event) => {
  const { id, bytes, size } = event.data;
  turn = turn.then(async () => {
    const tar = await inflate(bytes, size);
    const files = regularFiles(tar);
    await Promise.all(
      files.map(([at, length]) => crypto.subtle.digest('SHA-1', tar.subarray(at, at + length))),
    );
    if (shelf.length < 4) shelf.push(tar.buffer);
    self.postMessage({ id, files: files.length, input: bytes }, [bytes.buffer]);
  });
};
