/**
 * bench:browser's floor (bench/browser.ts, `first_build_floor_ms`): the bare work of a first build
 * on an append-ready base, and nothing else, so the page's own first build can be set beside what
 * this machine needs for the same bytes. It fetches the base into one buffer (copied into a Blob
 * once whole: the page makes the same copy, in pieces), cuts each entries member as it arrives by the length its
 * marker gives (docs/formats.md, "Append-ready tgz"), has the pool's threads (floor-pool.js, one
 * per core, at most 4, as the page's pool) inflate it and SHA-1 every regular file in it, and
 * takes the whole base's SHA-256 once the last byte is in. Members and their output are written
 * into buffers the threads move back, as the page's are (src/worker/buffer-shelf.ts). No entry
 * rules, no software check, no writing, no saving: a lower bound, not a second implementation.
 */
import { bufferFor } from './floor-shelf.js';

const decoder = new TextDecoder();
let pool = [];

function startPool() {
  const size = Math.min(4, Math.max(1, navigator.hardwareConcurrency || 2));
  if (pool.length === 0) {
    pool = Array.from({ length: size }, () => new Worker('floor-pool.js', { type: 'module' }));
  }
  return pool;
}

/** The next whole entries member at `at` in `bytes[0, end)`: [its end, its inflated size]. */
function memberAt(bytes, at, end) {
  if (at + 16 > end) return undefined;
  const markerLength = bytes[at + 14] | (bytes[at + 15] << 8);
  if (at + 16 + markerLength > end) return undefined;
  const marker = decoder.decode(bytes.subarray(at + 16, at + 16 + markerLength));
  const deflate = /deflate=(\d+)/.exec(marker);
  if (!deflate) return null; // the vesselinfo or end member: no files to check
  const stop = at + 16 + markerLength + Number(deflate[1]) + 8;
  if (stop > end) return undefined;
  const size =
    bytes[stop - 4] | (bytes[stop - 3] << 8) | (bytes[stop - 2] << 16) | (bytes[stop - 1] << 24);
  return [stop, size >>> 0];
}

/** Buffers moved back from the threads, to copy the next member into. */
const shelf = [];

async function floor(url) {
  const threads = startPool();
  const start = performance.now();
  const response = await fetch(url, { cache: 'no-store' });
  const total = Number(response.headers.get('Content-Length'));
  const bytes = new Uint8Array(total);
  const replies = [];
  let loaded = 0;
  let cut = 0;
  let sent = 0;
  let files = 0;
  let ended = false;
  const send = () => {
    for (let member = memberAt(bytes, cut, loaded); member; member = memberAt(bytes, cut, loaded)) {
      const copy = bufferFor(shelf, member[0] - cut);
      copy.set(bytes.subarray(cut, member[0]));
      const thread = threads[sent++ % threads.length];
      replies.push(
        new Promise((resolve) => {
          const id = sent;
          const listen = (event) => {
            if (event.data.id !== id) return;
            thread.removeEventListener('message', listen);
            files += event.data.files;
            if (shelf.length < 8) shelf.push(event.data.input.buffer);
            resolve();
          };
          thread.addEventListener('message', listen);
        }),
      );
      thread.postMessage({ id: sent, bytes: copy, size: member[1] }, [copy.buffer]);
      cut = member[0];
    }
    if (memberAt(bytes, cut, loaded) === null) ended = true;
  };
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes.set(value, loaded);
    loaded += value.length;
    if (!ended) send();
  }
  const lastByte = performance.now() - start;
  const blob = new Blob([bytes]);
  await crypto.subtle.digest('SHA-256', bytes);
  await Promise.all(replies);
  return {
    ms: performance.now() - start,
    lastByteMs: lastByte,
    members: sent,
    files,
    blob: blob.size,
  };
}

self.onmessage = async (event) => {
  try {
    self.postMessage(await floor(event.data.url));
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
