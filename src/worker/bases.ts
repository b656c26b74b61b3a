/// <reference lib="webworker" />
/**
 * Base installers, fetched and checked in the worker so the page's main thread never touches
 * their bytes: read from the Cache API or the network into one buffer (and a Blob, piece by
 * piece) as they arrive, checked against the manifest's SHA-256, then held for every build of
 * this visit.
 */
import { baseBuildable, checkBase } from '../core/archive/base-check.ts';
import { concatBytes } from '../core/bytes.ts';
import type { InstallerSource } from '../core/archive/walk.ts';
import { checkSha256, customizeInstallerParts, type Platform } from '../core/archive/index.ts';
import { CibError, errorsOf } from '../core/problems.ts';
import { BaseReceiver } from '../core/archive/receive.ts';
import type { SoftwareReport } from '../core/software.ts';
import type { BaseProgress, BaseRequest } from './protocol.ts';

/** A base whose bytes passed every check; builds only ever start from one of these. */
export interface VerifiedBase {
  request: BaseRequest;
  bytes: Uint8Array;
  sha256: string;
  /** The same bytes as a Blob, so saved files can reference them instead of copying. */
  blob: Blob;
  /** No entry extracts to the vesselinfo (so a build need not walk the entries again). */
  clean: boolean;
  /** The software check (intact, or the base would have been refused), notes included. */
  software?: SoftwareReport;
}

type Listener = (progress: BaseProgress) => void;

interface Job {
  promise: Promise<VerifiedBase>;
  listeners: Set<Listener>;
  last?: BaseProgress;
  settled: boolean;
}

/** Bumped when the way bases are stored changes, so old entries are never misread. */
const CACHE_NAME = 'cib-base-installers-v1';
/** Enough progress messages for a smooth bar, few enough to cost the page nothing. */
const PROGRESS_STEP = 256 * 1024;
/** The base's Blob is built piece by piece while bytes arrive, not in one copy at the end. */
const BLOB_PIECE = 1 << 20;

const jobs = new Map<string, Job>();

function cacheKey(request: BaseRequest): string {
  // The digest in the key means a new manifest never reuses an old base.
  return `${request.url}?sha256=${request.sha256}`;
}

async function openCache(): Promise<Cache | undefined> {
  try {
    return 'caches' in globalThis ? await caches.open(CACHE_NAME) : undefined;
  } catch {
    return undefined; // private windows and insecure origins have no Cache API
  }
}

/**
 * The verified base for `request`: one download per base and visit however many callers ask
 * (a background prefetch and a click share it). A failure is forgotten, so the next call retries.
 */
export function fetchAndVerifyBase(
  request: BaseRequest,
  onProgress?: Listener,
): Promise<VerifiedBase> {
  const key = cacheKey(request);
  let job = jobs.get(key);
  if (!job) {
    const created: Job = {
      promise: Promise.resolve() as never,
      listeners: new Set(),
      settled: false,
    };
    created.promise = loadBase(request, key, (progress) => {
      created.last = progress;
      for (const listener of created.listeners) listener(progress);
    });
    const settle = () => {
      created.settled = true;
      created.listeners.clear();
    };
    created.promise.then(settle, () => {
      settle();
      jobs.delete(key);
    });
    jobs.set(key, created);
    job = created;
  }
  if (onProgress && !job.settled) {
    job.listeners.add(onProgress);
    if (job.last) onProgress(job.last);
  }
  return job.promise;
}

/** Resolves once no base is being fetched, so lesser work can wait its turn behind downloads. */
export async function basesSettled(): Promise<void> {
  await Promise.allSettled([...jobs.values()].map((job) => job.promise));
}

async function loadBase(
  request: BaseRequest,
  key: string,
  report: Listener,
): Promise<VerifiedBase> {
  // The network request starts at once, beside the (sometimes slow) cache lookup, and is
  // cancelled when a stored copy is found.
  const aborter = new AbortController();
  const network = download(request, aborter.signal);
  network.catch(() => undefined); // awaited below, or cancelled
  const cache = await openCache();
  const cached = await cache?.match(key).catch(() => undefined);
  if (cached?.body) {
    aborter.abort();
    try {
      return await receive(request, cached, report);
    } catch {
      // A damaged or stale stored copy: drop it and download afresh.
      await cache?.delete(key).catch(() => false);
    }
  }
  const response = await (aborter.signal.aborted ? download(request) : network);
  const verified = await receive(request, response, report);
  // Stored only once verified; the Blob is handed over, not copied again.
  void cache?.put(key, new Response(verified.blob)).catch(() => undefined);
  return verified;
}

async function download(request: BaseRequest, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(request.url, signal ? { signal } : {});
  } catch {
    throw new Error(
      `The ${request.platform} base installer (${request.file}) could not be downloaded: the network request failed.`,
    );
  }
  if (!response.ok || !response.body) {
    throw new Error(
      `The ${request.platform} base installer (${request.file}) could not be downloaded: the server answered ${response.status}.`,
    );
  }
  return response;
}

/** Reads, hashes and checks one response; nothing here runs on the page's main thread. */
async function receive(
  request: BaseRequest,
  response: Response,
  report: Listener,
): Promise<VerifiedBase> {
  const header = Number(response.headers.get('Content-Length'));
  const total =
    Number.isFinite(header) && header > 0 ? header : request.size > 0 ? request.size : undefined;
  const receiver = new BaseReceiver(total);
  const reader = response.body!.getReader();
  let reported = 0;
  const pieces: Blob[] = [];
  let blobbed = 0;
  const addPiece = () => {
    // Blob copies the view at once, so later pushes may move the buffer.
    pieces.push(new Blob([receiver.received().subarray(blobbed) as Uint8Array<ArrayBuffer>]));
    blobbed = receiver.loaded;
  };
  // The entry check (software, vesselinfo) walks the bytes while they arrive, so on a slow link it
  // is done when the last byte is; it counts only if the bytes then pass the digest.
  const arriving = arrivingSource(total ?? 0);
  const checking = checkBase(arriving.source, { knownKeys: request.knownKeys });
  checking.catch(() => undefined); // awaited below only if the digest matches
  report({ phase: 'downloading', loaded: 0, total });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      receiver.push(value);
      arriving.push(value);
      if (receiver.loaded - blobbed >= BLOB_PIECE) addPiece();
      if (receiver.loaded - reported >= PROGRESS_STEP) {
        reported = receiver.loaded;
        report({ phase: 'downloading', loaded: reported, total });
      }
    }
  } catch (error) {
    arriving.fail(error); // the walk ends too, instead of waiting for bytes that will not come
    throw error;
  }
  report({ phase: 'downloading', loaded: receiver.loaded, total });
  if (receiver.loaded > blobbed) addPiece();
  report({ phase: 'checking' });
  arriving.end(receiver.received());
  // The digest runs off this thread while the entry check finishes on this one.
  const { bytes, sha256 } = await receiver.finish();
  checkSha256(sha256, request.sha256);
  // The manifest's SHA-256 says these are the listed bytes; this says their software is what
  // the update key signed, and that they hold no ambiguous vesselinfo. Once per base and visit.
  const check = await checking;
  if (!baseBuildable(check)) throw new CibError(errorsOf(check.problems));
  return {
    request,
    bytes,
    sha256,
    blob: new Blob(pieces),
    clean: check.clean,
    ...(check.software ? { software: check.software } : {}),
  };
}

/**
 * An InstallerSource over bytes still arriving: the walk streams them chunk by chunk (a zip,
 * read from its end, waits for the whole).
 */
function arrivingSource(expected: number): {
  source: InstallerSource;
  push(chunk: Uint8Array): void;
  end(whole: Uint8Array): void;
  fail(error: unknown): void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  let first: Uint8Array = new Uint8Array(0);
  const waiting: (() => void)[] = [];
  let whole: Uint8Array | undefined;
  let settle!: (bytes: Uint8Array) => void;
  const all = new Promise<Uint8Array>((resolve) => (settle = resolve));
  const wake = () => waiting.splice(0).forEach((w) => w());
  return {
    source: {
      size: expected,
      head: async (length) => {
        while (first.length < length && whole === undefined)
          await new Promise<void>((resolve) => waiting.push(resolve));
        return (whole ?? first).subarray(0, length);
      },
      stream: () => stream,
      bytes: () => all,
    },
    push(chunk) {
      if (first.length < 64) first = concatBytes([first, chunk]).subarray(0, 64);
      try {
        controller.enqueue(chunk);
      } catch {
        // The walk already ended (it refused the base); its verdict is what counts.
      }
      wake();
    },
    end(bytes) {
      whole = bytes;
      try {
        controller.close();
      } catch {
        // as above
      }
      settle(bytes);
      wake();
    },
    fail(error) {
      try {
        controller.error(error);
      } catch {
        // as above
      }
    },
  };
}

/**
 * The donor's installer as a Blob: the verified base plus the vesselinfo. Pieces of the output
 * that are the base's own bytes are taken as slices of the base's Blob, so no byte is copied.
 */
export async function buildInstaller(options: {
  base: BaseRequest;
  vesselinfo: string;
  platform: Platform;
  mediaType: string;
  onProgress?: Listener;
}): Promise<{ installer: Blob; software?: SoftwareReport }> {
  const base = await fetchAndVerifyBase(options.base, options.onProgress);
  options.onProgress?.({ phase: 'writing' });
  // The digest and the entry check are done: the splice copies nothing and walks nothing again.
  const parts = await customizeInstallerParts({
    base: base.bytes,
    vesselinfo: options.vesselinfo,
    platform: options.platform,
    expectSha256: options.base.sha256,
    sha256: base.sha256,
    knownClean: base.clean,
  });
  const installer = new Blob(
    parts.map((part) => sliceOfBase(base, part) ?? (part as Uint8Array<ArrayBuffer>)),
    { type: options.mediaType },
  );
  return { installer, ...(base.software ? { software: base.software } : {}) };
}

function sliceOfBase(base: VerifiedBase, part: Uint8Array): Blob | undefined {
  if (part.buffer !== base.bytes.buffer) return undefined;
  const start = part.byteOffset - base.bytes.byteOffset;
  if (start < 0 || start + part.byteLength > base.bytes.byteLength) return undefined;
  return base.blob.slice(start, start + part.byteLength);
}
