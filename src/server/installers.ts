/**
 * The server's node-side installer builder (README, "Server and XML-RPC shim"): the same core the
 * page uses, run in worker threads (build-worker.ts) so no base's bytes are read, hashed, walked
 * or copied on the event loop.
 *
 * Each base is read once into shared memory (and again only when its file changes), its SHA-256
 * compared with the manifest, and checked once per SHA-256 (software and vesselinfo, the core's
 * `checkBase`). A build then only makes the new tail in a worker; the answer is streamed as slices
 * of the kept base plus that tail, and only tails are cached. At most `threads + queue` builds are
 * under way at once; beyond, `BuildersBusy` (503 with Retry-After).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { retrustBaseCheck, validSigner, type BaseCheck } from '../core/archive/base-check.ts';
import type { ResolvedConfig } from '../core/build-config.ts';
import {
  MANIFEST_FILE,
  parseManifest,
  type BaseManifest,
  type BaseManifestEntry,
} from '../core/manifest.ts';
import { platformInfoOf, type Platform } from '../core/platforms.ts';
import { CibError, errorsOf, problem, type Problem } from '../core/problems.ts';
import type { KnownUpdateKey } from '../core/deployment-settings.ts';
import {
  applyTrust,
  knownUpdateKeys,
  softwareNotes,
  softwareVerdictLine,
  type SoftwareReport,
} from '../core/software.ts';
import { deploymentTrustsDemoKey, withDemoKey } from '../core/update-trust.ts';
import { renderVesselinfo } from '../core/vesselinfo.ts';
import type { Piece, WorkerReply, WorkerRequest } from './build-worker.ts';
import { DEFAULT_BUILD_QUEUE, DEFAULT_BUILD_THREADS } from './server-settings.ts';
import { WorkerPool } from './worker-pool.ts';

/** The manifest in `basesDir`, read and validated; a CibError says what is wrong. */
export async function readManifest(basesDir: string): Promise<BaseManifest> {
  let text: string;
  try {
    text = await readFile(join(basesDir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new CibError(
      problem('base.manifest.missing', MANIFEST_FILE, 'The base installers are not installed.'),
    );
  }
  const { manifest, problems } = parseManifest(text);
  if (!manifest)
    throw new CibError(problems.map((p) => ({ ...p, path: `${MANIFEST_FILE} ${p.path}` })));
  return manifest;
}

/** New bytes of built installers (their tails) kept in memory, least recently used dropped first. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
/** What a 503 for busy builders tells the client to wait, in seconds. */
export const BUSY_RETRY_SECONDS = 5;
/**
 * Base slices are streamed in pieces of this size, one at a time per download: each write copies
 * its piece into the socket on the event loop, so a smaller piece keeps each such stretch shorter
 * (with twenty downloads, twenty of them can fall in one turn of the loop), while each piece
 * costs a write call of its own; and a slow reader holds no more than that.
 */
export const STREAM_PIECE = 256 * 1024;

export interface BuiltInstaller {
  /** The installer in order: views of the kept base and the new bytes; never copied whole. */
  pieces: Uint8Array[];
  length: number;
  contentType: string;
  filename: string;
  /** Set when the base's software is signed by an unknown update key. */
  warning?: string;
}

/** More builds are under way than the bound allows: answer 503 with Retry-After. */
export class BuildersBusy extends Error {
  readonly retryAfterSeconds = BUSY_RETRY_SECONDS;
  constructor(readonly underWay: number) {
    super(
      `The server is building ${underWay} other installers right now; try again in ${BUSY_RETRY_SECONDS} seconds.`,
    );
    this.name = 'BuildersBusy';
  }
}

/** One base's state, as /healthz and the start-up check report it. */
export interface BaseState {
  platform: Platform;
  file: string;
  /** Present, with the size and SHA-256 the manifest lists. */
  problems: Problem[];
  /** The file's own size and SHA-256, as served to the page and read for builds. */
  size?: number;
  sha256?: string;
  /** The software check's verdict, sentence and notes; undefined for a base that is not there. */
  software?: { verdict: string; summary: string; notes?: string[] };
}

/** Which update keys the deployment trusts, decided from its bases (docs/keys.md). */
export interface DeploymentTrust {
  keys: KnownUpdateKey[];
  /** Every base's SHA-256 when all are signed by the demo update key, which is then trusted. */
  demoBases?: string[];
}

/** A base as the manifest lists it, read and checked (its report judged under no deployment). */
interface ReadBase {
  state: BaseState;
  report?: SoftwareReport;
}

/** A base file as read into shared memory. */
interface KeptBase {
  bytes: SharedArrayBuffer;
  sha256: string;
}

/** The core's check of a base, or the problems that kept it from reading the base at all. */
type CheckResult = { check: BaseCheck } | { unreadable: Problem[] };

export interface InstallerBuilderOptions {
  knownKeys?: readonly KnownUpdateKey[];
  /** Worker threads building (BUILD_THREADS). */
  threads?: number;
  /** Builds waiting beyond those running (BUILD_QUEUE); beyond both, BuildersBusy. */
  queue?: number;
  maxCacheBytes?: number;
}

function piecesOf(base: SharedArrayBuffer, pieces: readonly Piece[]): Uint8Array[] {
  return pieces.flatMap((piece) => {
    if (piece instanceof Uint8Array) return [piece];
    const out: Uint8Array[] = [];
    for (let at = piece.start; at < piece.end; at += STREAM_PIECE)
      out.push(new Uint8Array(base, at, Math.min(STREAM_PIECE, piece.end - at)));
    return out;
  });
}

/** Why a base could not be read: missing, or (a worker thread that failed, say) the reason. */
function unreadable(entry: BaseManifestEntry, error: unknown): Problem {
  if ((error as NodeJS.ErrnoException)?.code === 'ENOENT')
    return problem('base.missing', entry.file, 'The manifest lists it, but the file is missing.');
  return problem(
    'base.unreadable',
    entry.file,
    `The file cannot be read: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function failed(reply: WorkerReply): never {
  if (reply.kind !== 'failed') throw new Error(`The build thread answered ${reply.kind}.`);
  throw reply.problems ? new CibError(reply.problems) : new Error(reply.message);
}

export class InstallerBuilder {
  private readonly pool: WorkerPool<WorkerRequest, WorkerReply>;
  private readonly knownKeys: KnownUpdateKey[];
  private readonly maxBuilds: number;
  private readonly maxCacheBytes: number;
  /** Each base file as last read, by path, with the `size:mtimeMs` it was read at. */
  private readonly files = new Map<string, { stamp: string; kept: Promise<KeptBase> }>();
  /** The kept check of each base, by its SHA-256: the verdict belongs to the bytes. */
  private readonly checks = new Map<string, Promise<CheckResult>>();
  /** Tails of built installers, by build id, platform and base SHA-256. */
  private readonly tails = new Map<string, { pieces: Piece[]; bytes: number }>();
  private tailBytes = 0;
  private readonly building = new Map<string, Promise<Piece[]>>();
  private underWay = 0;
  private checksRun = 0;

  constructor(
    readonly basesDir: string,
    options: InstallerBuilderOptions = {},
  ) {
    this.knownKeys = [...(options.knownKeys ?? knownUpdateKeys())];
    const threads = options.threads ?? DEFAULT_BUILD_THREADS;
    this.pool = new WorkerPool('build-worker', threads);
    this.maxBuilds = threads + (options.queue ?? DEFAULT_BUILD_QUEUE);
    this.maxCacheBytes = options.maxCacheBytes ?? DEFAULT_CACHE_BYTES;
  }

  manifest(): Promise<BaseManifest> {
    return readManifest(this.basesDir);
  }

  /**
   * For /healthz: builds under way (running or waiting for a thread) and their bound, base checks
   * run since start (one per base SHA-256), and the bytes of built tails kept.
   */
  get load(): { under_way: number; limit: number; base_checks: number; cached_tail_bytes: number } {
    return {
      under_way: this.underWay,
      limit: this.maxBuilds,
      base_checks: this.checksRun,
      cached_tail_bytes: this.tailBytes,
    };
  }

  /** Ends the worker threads. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /**
   * The base file's bytes and SHA-256, read in a worker thread when the file is new or changed
   * (by size or mtime) since it was last read; throws when it cannot be read.
   */
  private async base(file: string): Promise<KeptBase> {
    const info = await stat(file);
    const stamp = `${info.size}:${info.mtimeMs}`;
    const known = this.files.get(file);
    if (known?.stamp === stamp) return known.kept;
    const kept = this.pool.run({ kind: 'read', file }).then((reply) => {
      if (reply.kind !== 'read') failed(reply);
      return { bytes: reply.base, sha256: reply.sha256 };
    });
    this.files.set(file, { stamp, kept });
    kept.catch(() => {
      if (this.files.get(file)?.kept === kept) this.files.delete(file);
    });
    return kept;
  }

  /** The core's check of these bytes, run once per SHA-256 and kept. */
  private checkOf(base: KeptBase): Promise<CheckResult> {
    let result = this.checks.get(base.sha256);
    if (!result) {
      this.checksRun += 1;
      result = this.pool
        .run({ kind: 'check', base: base.bytes, knownKeys: this.knownKeys })
        .then((reply): CheckResult => {
          if (reply.kind === 'checked') return { check: reply.check };
          if (reply.kind === 'failed' && reply.problems) return { unreadable: reply.problems };
          failed(reply);
        });
      const pending = result;
      pending.catch(() => this.checks.delete(base.sha256));
      this.checks.set(base.sha256, pending);
    }
    return result;
  }

  /**
   * Every base the manifest lists: present with the size and SHA-256 given, and its software
   * verdict under the deployment's trust. The start-up check and /healthz both read it; a
   * malformed manifest is one problem. Only a file's metadata is read on the event loop.
   */
  async check(): Promise<{ problems: Problem[]; bases: BaseState[]; trust: DeploymentTrust }> {
    let manifest: BaseManifest;
    try {
      manifest = await this.manifest();
    } catch (error) {
      if (error instanceof CibError)
        return { problems: error.problems, bases: [], trust: { keys: [...this.knownKeys] } };
      throw error;
    }
    const read = await Promise.all(manifest.bases.map((entry) => this.readBase(entry)));
    const trust = trustOf(this.knownKeys, read);
    const bases = read.map(({ state, report }) => {
      if (report) {
        const judged = applyTrust(report, trust.keys);
        state.software = {
          verdict: judged.verdict,
          summary: softwareVerdictLine(judged),
          notes: softwareNotes(judged).map((note) => note.text),
        };
      }
      return state;
    });
    return { problems: bases.flatMap((b) => b.problems), bases, trust };
  }

  /** The update keys the deployment trusts now: the operator's, and the demo key if earned. */
  async trust(): Promise<DeploymentTrust> {
    return (await this.check()).trust;
  }

  /** A listed base's file checked against its entry, and its software report (trust aside). */
  private async readBase(entry: BaseManifestEntry): Promise<ReadBase> {
    const state: BaseState = { platform: entry.platform, file: entry.file, problems: [] };
    let base: KeptBase;
    try {
      base = await this.base(join(this.basesDir, entry.file));
    } catch (error) {
      state.problems.push(unreadable(entry, error));
      return { state };
    }
    const size = base.bytes.byteLength;
    state.size = size;
    state.sha256 = base.sha256;
    if (size !== entry.size || base.sha256 !== entry.sha256) {
      state.problems.push(
        problem(
          'base.sha256.mismatch',
          entry.file,
          `The file (${size} bytes, SHA-256 ${base.sha256}) is not the one the manifest lists (${entry.size} bytes, SHA-256 ${entry.sha256}).`,
        ),
      );
    }
    const result = await this.checkOf(base);
    if ('unreadable' in result) {
      state.software = {
        verdict: 'unreadable',
        summary: result.unreadable[0]?.message ?? 'The base cannot be read.',
      };
      return { state };
    }
    const report = result.check.software;
    if (!report) {
      state.software = { verdict: 'not-checked', summary: 'The GUI executable is not checked.' };
      return { state };
    }
    return { state, report };
  }

  /**
   * The installer for `platform`, or undefined when no base exists for it. Throws CibError
   * (`base.*`, `software.*`) when the base cannot be built from, and BuildersBusy beyond the bound.
   */
  async build(
    id: string,
    resolved: ResolvedConfig,
    platform: Platform,
  ): Promise<BuiltInstaller | undefined> {
    const info = platformInfoOf(platform);
    const entry = (await this.manifest()).bases.find((b) => b.platform === platform);
    if (!info || !entry) return undefined;
    const base = await this.base(join(this.basesDir, entry.file)).catch((error: unknown) => {
      throw new CibError(unreadable(entry, error));
    });
    if (base.bytes.byteLength !== entry.size || base.sha256 !== entry.sha256) {
      throw new CibError(
        problem(
          'base.sha256.mismatch',
          entry.file,
          `The base installer's SHA-256 is ${base.sha256}, not the ${entry.sha256} the manifest lists.`,
        ),
      );
    }
    const result = await this.checkOf(base);
    if ('unreadable' in result) throw new CibError(result.unreadable);
    // Whether the demo key is trusted depends on every base, so it is part of what was built.
    const { keys, demoBases } = await this.trust();
    const judged = retrustBaseCheck(result.check, keys);
    const named = judged.problems.map((p) => ({
      ...p,
      path: p.path === 'base' ? entry.file : `${entry.file}: ${p.path}`,
    }));
    if (errorsOf(named).length > 0) throw new CibError(errorsOf(named));

    const key = `${id}/${platform}/${entry.sha256}${demoBases ? '/demo' : ''}`;
    let pieces = this.cached(key);
    if (!pieces) {
      let pending = this.building.get(key);
      if (!pending) {
        if (this.underWay >= this.maxBuilds) throw new BuildersBusy(this.underWay);
        this.underWay += 1;
        pending = this.pool
          .run({
            kind: 'build',
            base: base.bytes,
            sha256: base.sha256,
            clean: result.check.clean,
            vesselinfo: renderVesselinfo(resolved),
            platform,
            format: info.format,
          })
          .then((reply) => (reply.kind === 'built' ? reply.pieces : failed(reply)))
          .finally(() => {
            this.underWay -= 1;
            this.building.delete(key);
          });
        this.building.set(key, pending);
      }
      pieces = await pending;
      this.remember(key, pieces);
    }
    const out = piecesOf(base.bytes, pieces);
    return {
      pieces: out,
      length: out.reduce((n, p) => n + p.length, 0),
      contentType: info.mediaType,
      filename: info.outputFile,
    };
  }

  private cached(key: string): Piece[] | undefined {
    const hit = this.tails.get(key);
    if (!hit) return undefined;
    this.tails.delete(key);
    this.tails.set(key, hit);
    return hit.pieces;
  }

  private remember(key: string, pieces: Piece[]): void {
    const bytes = pieces.reduce((n, p) => n + (p instanceof Uint8Array ? p.length : 16), 0);
    if (this.tails.has(key) || bytes > this.maxCacheBytes) return;
    this.tails.set(key, { pieces, bytes });
    this.tailBytes += bytes;
    for (const [oldKey, old] of this.tails) {
      if (this.tailBytes <= this.maxCacheBytes) break;
      this.tails.delete(oldKey);
      this.tailBytes -= old.bytes;
    }
  }
}

/**
 * The demo-key rule on what was read: the demo key is trusted only when every listed base is there
 * as listed and validly signed by it (docs/keys.md).
 */
function trustOf(knownKeys: readonly KnownUpdateKey[], read: readonly ReadBase[]): DeploymentTrust {
  const signers = read.map(({ state, report }) =>
    state.problems.length === 0 ? validSigner(report) : undefined,
  );
  const demo = deploymentTrustsDemoKey(signers);
  return {
    keys: withDemoKey(knownKeys, demo),
    ...(demo ? { demoBases: read.map(({ state }) => state.sha256!) } : {}),
  };
}
