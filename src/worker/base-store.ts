/// <reference lib="webworker" />
/**
 * Base installers, fetched and checked in the worker so the page's main thread never touches
 * their bytes: read from the Cache API or the network into one buffer as they arrive (and copied
 * into a Blob once whole), checked against the manifest's SHA-256, then held for every build of
 * this visit. The entry check walks the bytes as they arrive, its members inflated by the pool's
 * threads (inflate-pool.ts); its verdict is kept for later visits (verdicts.ts).
 */
import { baseBuildable, checkBase, type BaseCheck } from '../core/archive/base-check.ts';
import { concatBytes } from '../core/bytes.ts';
import { detectFormat } from '../core/archive/format.ts';
import { nativeInflateSafe } from '../core/archive/members.ts';
import type { InstallerSource } from '../core/archive/walk.ts';
import {
  checkSha256,
  customizeInstallerParts,
  sha256Hex,
  type Platform,
} from '../core/archive/installer.ts';
import { CibError, errorsOf, problem } from '../core/problems.ts';
import { BaseReceiver } from '../core/archive/receive.ts';
import { InflatePool, type PoolStats, type WholeBase } from './inflate-pool.ts';
import { BLOB_PIECE, piecedBlob } from './pieced-blob.ts';
import type { SoftwareReport } from '../core/software.ts';
import type { BaseProgress, BaseRequest } from './protocol.ts';
import { keepVerdict, keptVerdict } from './verdicts.ts';

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
  timing: BaseTimings;
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
/**
 * Enough progress messages for a smooth bar, few enough to cost the page nothing: one per
 * 256 KiB, and at most one per PROGRESS_MS (each is a task and a repaint on the page's main
 * thread, which shares the cores with the check while the base arrives).
 */
const PROGRESS_STEP = 256 * 1024;
const PROGRESS_MS = 100;
/** `scheduler.postTask` at background priority, where the platform has it (not WebKit). */
function backgroundTask(): ((task: () => void) => Promise<void>) | undefined {
  const scheduler = (
    globalThis as {
      scheduler?: {
        postTask?: (task: () => void, options: { priority: 'background' }) => Promise<void>;
      };
    }
  ).scheduler;
  const postTask = scheduler?.postTask?.bind(scheduler);
  return postTask ? (task) => postTask(task, { priority: 'background' }) : undefined;
}

/** How long after a base is verified it is stored for later visits (see loadBase). */
const STORE_DELAY_MS = 1500;

const jobs = new Map<string, Job>();

/**
 * Where a base's time went, as wall-clock times (`performance.timeOrigin` + `now()`, so the page
 * can set them beside its own), for `npm run bench:browser` (README, "The page's speed"); it
 * reads `self.cibBaseTimings` in this worker. No bytes, no keys.
 */
export interface BaseTimings {
  url: string;
  /** The request started (network or Cache API). */
  start: number;
  /** The first and the last byte arrived. */
  firstByte?: number;
  lastByte?: number;
  /** The entry walk ended (inflating and reading every member, digests handed out). */
  walked?: number;
  /** Every file digest in and the verdict reached. */
  checked?: number;
  /** The whole base's SHA-256 computed. */
  digested?: number;
  /** Ready to build from. */
  verified?: number;
  /** The verdict came from an earlier visit (no walk). */
  kept: boolean;
  source: 'network' | 'cache';
  pool?: PoolStats;
  /** Each build from this base: started, and the installer's Blob made. */
  builds: { start: number; end: number }[];
}

const timings: BaseTimings[] = [];
(globalThis as unknown as { cibBaseTimings: BaseTimings[] }).cibBaseTimings = timings;

function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** One pool for the visit: its threads are started with the first base. */
let pool: InflatePool | undefined;

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
  // A verdict kept for these bytes, looked up meanwhile: the bytes' SHA-256 is checked below.
  const verdict = keptVerdict(request.sha256, request.knownKeys);
  const cache = await openCache();
  const cached = await cache?.match(key).catch(() => undefined);
  if (cached?.body) {
    aborter.abort();
    try {
      return await receive(request, cached, report, await verdict, 'cache');
    } catch {
      // A damaged or stale stored copy: drop it and download afresh.
      await cache?.delete(key).catch(() => false);
    }
  }
  const response = await (aborter.signal.aborted ? download(request) : network);
  const verified = await receive(request, response, report, await verdict, 'network');
  // Stored only once verified; the Blob is handed over, not copied again. A moment later, so the
  // browser writing it to disk does not compete with saving the installer the click is waiting for.
  if (cache) {
    setTimeout(
      () => void cache.put(key, new Response(verified.blob)).catch(() => undefined),
      STORE_DELAY_MS,
    );
  }
  return verified;
}

async function download(request: BaseRequest, signal?: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(request.url, signal ? { signal } : {});
  } catch {
    throw new CibError(
      problem(
        'base.download.network',
        '',
        `The ${request.platform} base installer (${request.file}) could not be downloaded: the network request failed.`,
      ),
    );
  }
  if (!response.ok || !response.body) {
    throw new CibError(
      problem(
        'base.download.status',
        '',
        `The ${request.platform} base installer (${request.file}) could not be downloaded: the server answered ${response.status}.`,
      ),
    );
  }
  return response;
}

/**
 * The entry check as the bytes arrive, with the members inflated by the pool where this platform's
 * DecompressionStream is safe (else by fflate, here).
 */
async function checkArriving(
  source: InstallerSource,
  request: BaseRequest,
  timing: BaseTimings,
): Promise<BaseCheck> {
  if (!(await nativeInflateSafe())) {
    return checkBase(source, {
      knownKeys: request.knownKeys,
      walk: { inflateMember: null },
      onWalked: () => (timing.walked = clock()),
    });
  }
  pool ??= new InflatePool();
  pool.warm();
  const threads = pool;
  try {
    return await checkBase(source, {
      knownKeys: request.knownKeys,
      digester: threads.digester,
      walk: {
        inflateMember: threads.inflate,
        parallel: 16,
        onMemberRead: threads.memberRead,
        allocate: threads.allocate,
      },
      onWalked: () => (timing.walked = clock()),
    });
  } finally {
    threads.release();
  }
}

/** The base's bytes as they arrive, whole in one buffer, and the progress they make. */
class Arrival {
  readonly receiver: BaseReceiver;
  /** The base's first bytes as Blob pieces, made while the bytes arrive when the thread is idle. */
  readonly pieces: Blob[] = [];
  /** How many bytes the pieces hold. */
  pieced = 0;
  private piecing = false;
  private ended = false;
  private reported = 0;
  private reportedAt = 0;

  constructor(
    readonly total: number | undefined,
    private readonly report: Listener,
  ) {
    this.receiver = new BaseReceiver(total);
  }

  push(chunk: Uint8Array): void {
    this.receiver.push(chunk);
    const loaded = this.receiver.loaded;
    if (loaded - this.pieced >= BLOB_PIECE) this.pieceWhenIdle();
    if (
      loaded - this.reported >= PROGRESS_STEP &&
      performance.now() - this.reportedAt >= PROGRESS_MS
    )
      this.progress();
  }

  /** The last byte is in: the bar at its end, and no more pieces here. */
  end(): void {
    this.ended = true;
    this.progress();
  }

  /**
   * The base's Blob is copied in 1 MiB pieces (pieced-blob.ts), each a pass over fresh memory.
   * Over a slow link this thread waits for bytes most of the time, and the pieces made then cost
   * the build nothing; on a fast one it is busy walking, and they would hold the walk up. So they
   * are made only as background tasks, which run when nothing else is waiting; what is left when
   * the last byte is in is made with the SHA-256 (`wholeBase`).
   */
  private pieceWhenIdle(): void {
    const postTask = backgroundTask();
    if (!postTask || this.piecing || this.ended) return;
    this.piecing = true;
    void postTask(() => {
      this.piecing = false;
      if (this.ended || this.receiver.loaded - this.pieced < BLOB_PIECE) return;
      const bytes = this.receiver.received().subarray(this.pieced, this.pieced + BLOB_PIECE);
      this.pieces.push(new Blob([bytes as Uint8Array<ArrayBuffer>]));
      this.pieced += BLOB_PIECE;
      if (this.receiver.loaded - this.pieced >= BLOB_PIECE) this.pieceWhenIdle();
    }).catch(() => undefined);
  }

  progress(): void {
    this.reported = this.receiver.loaded;
    this.reportedAt = performance.now();
    this.report({ phase: 'downloading', loaded: this.reported, total: this.total });
  }
}

/** Reads, hashes and checks one response; nothing here runs on the page's main thread. */
async function receive(
  request: BaseRequest,
  response: Response,
  report: Listener,
  kept: BaseCheck | undefined,
  source: BaseTimings['source'],
): Promise<VerifiedBase> {
  const timing: BaseTimings = {
    url: request.url,
    start: clock(),
    kept: !!kept,
    source,
    builds: [],
  };
  timings.push(timing);
  const header = Number(response.headers.get('Content-Length'));
  const total =
    Number.isFinite(header) && header > 0 ? header : request.size > 0 ? request.size : undefined;
  const arrival = new Arrival(total, report);
  const reader = response.body!.getReader();
  // The entry check (software, vesselinfo) walks the bytes while they arrive, so on a slow link it
  // is done when the last byte is; it counts only if the bytes then pass the digest. A verdict
  // kept from an earlier visit for this SHA-256 spares it.
  const arriving = kept ? undefined : arrivingSource(total ?? 0);
  const checking = kept
    ? Promise.resolve(kept)
    : checkArriving(arriving!.source, request, timing).then((check) => {
        timing.checked = clock();
        return check;
      });
  checking.catch(() => undefined); // awaited below only if the digest matches
  arrival.progress();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      timing.firstByte ??= clock();
      arrival.push(value);
      arriving?.push(value);
    }
  } catch (error) {
    arriving?.fail(error); // the walk ends too, instead of waiting for bytes that will not come
    throw error;
  }
  timing.lastByte = clock();
  arrival.end();
  report({ phase: 'checking' });
  let received: Uint8Array;
  try {
    received = arrival.receiver.whole();
  } catch (error) {
    arriving?.fail(error); // an empty base: the walk ends too, instead of waiting for its end
    throw error;
  }
  // The whole base's SHA-256 and the rest of its Blob (the pieces not made while the bytes
  // arrived; saved installers slice the Blob): on the pool's thread for them, while this one reads
  // the last members (a tgz's walk reads the chunks it was given, not these bytes, which go there
  // and back), else here.
  const tgz = received.length >= 64 && detectFormat(received) === 'tgz';
  const from = arrival.pieced;
  const away = arriving && tgz ? pool?.whole(received, from) : undefined;
  arriving?.end(away ? undefined : received);
  const { bytes, sha256, blob: rest } = await (away ?? wholeHere(received, from));
  const blob = from > 0 ? new Blob([...arrival.pieces, rest]) : rest;
  timing.digested = clock();
  checkSha256(sha256, request.sha256);
  // The manifest's SHA-256 says these are the listed bytes; this says their software is what
  // the update key signed, and that they hold no ambiguous vesselinfo. Once per base and visit,
  // and once per base ever where the verdict can be kept.
  const check = await checking;
  if (!kept) void keepVerdict(sha256, request.knownKeys, check);
  if (!kept && pool) timing.pool = { ...pool.stats }; // for the visit so far
  timing.verified = clock();
  if (!baseBuildable(check)) throw new CibError(errorsOf(check.problems));
  return {
    request,
    bytes,
    sha256,
    blob,
    clean: check.clean,
    ...(check.software ? { software: check.software } : {}),
    timing,
  };
}

/** The whole base's SHA-256, and a Blob of its bytes from `from` on, made in this thread. */
async function wholeHere(bytes: Uint8Array, from: number): Promise<WholeBase> {
  const blob = piecedBlob(bytes.subarray(from));
  return { bytes, sha256: await sha256Hex(bytes), blob };
}

/**
 * An InstallerSource over bytes still arriving: the walk streams them chunk by chunk (a zip,
 * read from its end, waits for the whole).
 */
function arrivingSource(expected: number): {
  source: InstallerSource;
  push(chunk: Uint8Array): void;
  /** The last byte is in; `whole`: every byte, unless they were moved away (a tgz needs none). */
  end(whole?: Uint8Array): void;
  fail(error: unknown): void;
} {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  let first: Uint8Array = new Uint8Array(0);
  const waiting: (() => void)[] = [];
  let whole: Uint8Array | undefined;
  let ended = false;
  let settle!: (bytes: Uint8Array) => void;
  let refuse!: (error: Error) => void;
  const all = new Promise<Uint8Array>((resolve, reject) => {
    settle = resolve;
    refuse = reject;
  });
  all.catch(() => undefined); // asked for only by a zip's walk, which is always given the bytes
  const wake = () => waiting.splice(0).forEach((w) => w());
  return {
    source: {
      size: expected,
      head: async (length) => {
        while (first.length < length && !ended)
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
      ended = true;
      try {
        controller.close();
      } catch {
        // as above
      }
      if (bytes) settle(bytes);
      else refuse(new Error('The base was moved to be hashed; only its chunks can be read.'));
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
  const start = clock();
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
  base.timing.builds.push({ start, end: clock() });
  return { installer, ...(base.software ? { software: base.software } : {}) };
}

function sliceOfBase(base: VerifiedBase, part: Uint8Array): Blob | undefined {
  if (part.buffer !== base.bytes.buffer) return undefined;
  const start = part.byteOffset - base.bytes.byteOffset;
  if (start < 0 || start + part.byteLength > base.bytes.byteLength) return undefined;
  return base.blob.slice(start, start + part.byteLength);
}

/**
 * The platforms among `requests` a build can use without the network: verified in this visit, or
 * kept in the Cache API with the manifest's SHA-256 (README, "Offline").
 */
export async function keptBases(requests: BaseRequest[]): Promise<Platform[]> {
  const cache = await openCache();
  const kept: Platform[] = [];
  for (const request of requests) {
    const key = cacheKey(request);
    if (jobs.get(key)?.settled || (await cache?.match(key).catch(() => undefined)))
      kept.push(request.platform);
  }
  return kept;
}

/**
 * The manifest check for kept bases: drops every base kept from `folder` that the current
 * manifest no longer lists with that SHA-256 (a deployment replaced it), so old bases do not pile
 * up. Bases from other folders (another deployment on the same site) are left alone.
 */
export async function forgetOtherBases(folder: string, keep: BaseRequest[]): Promise<number> {
  const cache = await openCache();
  if (!cache) return 0;
  const current = new Set(keep.map(cacheKey));
  let forgotten = 0;
  for (const request of await cache.keys()) {
    if (!request.url.startsWith(folder) || current.has(request.url)) continue;
    if (await cache.delete(request)) forgotten += 1;
  }
  return forgotten;
}
