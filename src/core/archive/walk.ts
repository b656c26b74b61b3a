/**
 * A bounded, streaming walk over an installer's entries, the one reader behind inspect, the
 * customisers' ambiguity check and the software check. Every entry (files, directories, links)
 * reaches the visitor; only the files it asks for are collected, and every cap refuses the input
 * with a message naming the entry before memory grows with it (README, "Security and limits").
 */
import { CibError, problem } from '../problems.ts';
import type { ArchiveEntry, EntryVisitor } from './entries.ts';
import { concatBytes } from '../bytes.ts';
import { MAX_VESSELINFO_BYTES } from '../vesselinfo.ts';
import { GzipReader } from './gzip.ts';
import { nativeInflater, walkMembers, type MemberInflater } from './members.ts';
import { extractedPath } from './paths.ts';
import { TarScanner, type TarEntryInfo } from './tar.ts';
import { listZipEntries, readZipEntry, ZipTail } from './zip.ts';

export interface WalkLimits {
  /** Largest single entry whose data a visitor may ask for. */
  maxEntryBytes: number;
  /** Most bytes a walk inflates: the whole tar stream of a tgz, the wanted entries of a zip. */
  maxTotalBytes: number;
  /**
   * Compressed bytes inflated at once (default 8 KiB, which bounds each output piece for untrusted
   * input); a caller walking an operator's base may take larger pieces, which inflate faster.
   */
  inflatePiece?: number;
  /**
   * The largest gzip member a walk may inflate whole (by a MemberInflater: natively, on other
   * threads); default 0, every member inflated in pieces as above. Only members that declare their
   * length (an append-ready base's entries members) are taken whole; larger ones go in pieces.
   */
  memberBytes?: number;
}

/** How a tgz walk inflates the members it may take whole (WalkLimits.memberBytes). */
export interface WalkOptions {
  /**
   * Default: the platform's DecompressionStream where it is safe (members.ts), in this thread;
   * null: every member in pieces, by fflate.
   */
  inflateMember?: MemberInflater | null;
  /** Members being inflated at once (default 4). */
  parallel?: number;
  /**
   * Called with each whole member's output once the walk has read it; the caller may then move
   * its buffer elsewhere. Visitors copy what they keep of an entry's bytes.
   */
  onMemberRead?: (out: Uint8Array) => void;
  /** Where members' compressed bytes are copied to be handed out (MemberWalkOptions.allocate). */
  allocate?: (length: number) => Uint8Array;
}

/** A real Seattle base inflates to a few tens of MiB; 128 MiB leaves room and keeps a bomb cheap. */
export const MAX_INFLATED_BYTES = 128 << 20;

export const DEFAULT_WALK_LIMITS: WalkLimits = {
  maxEntryBytes: MAX_VESSELINFO_BYTES,
  maxTotalBytes: MAX_INFLATED_BYTES,
};

/** Compressed bytes inflated at once: deflate's ~1032:1 ceiling keeps each output under ~9 MiB. */
const WALK_INFLATE_PIECE = 1 << 13;

/** Where the installer's bytes come from: whole in memory, or a file or Blob read as a stream. */
export interface InstallerSource {
  readonly size: number;
  /** The first bytes (up to `length`), enough to tell the format. */
  head(length: number): Promise<Uint8Array>;
  /** The bytes from the start, in chunks; cancelled when a walk stops early. */
  stream(): ReadableStream<Uint8Array>;
  /**
   * The same chunks without a stream, where the platform reads them more cheaply (a file in
   * Node: no stream machinery to load and drive); walks prefer it.
   */
  chunks?(): AsyncIterable<Uint8Array>;
  /** Every byte at once, for formats read from their end (zip, exe). */
  bytes(): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): InstallerSource {
  return {
    size: bytes.length,
    head: async (length) => bytes.subarray(0, length),
    stream: () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(bytes);
          controller.close();
        },
      }),
    bytes: async () => bytes,
  };
}

/** A Blob (a dropped file in the page, a file in Node) read as a stream, never whole for a tgz. */
export function blobSource(blob: Blob): InstallerSource {
  return {
    size: blob.size,
    head: async (length) => new Uint8Array(await blob.slice(0, length).arrayBuffer()),
    stream: () => blob.stream(),
    bytes: async () => new Uint8Array(await blob.arrayBuffer()),
  };
}

export interface WalkSummary {
  /** Entries handed to the visitor. */
  entries: number;
  /** Bytes inflated: the tar stream of a tgz, the wanted data of a zip. */
  inflated: number;
  /** Whether the visitor ended the walk before the archive's end. */
  stopped: boolean;
}

/** Thrown through the readers to end a walk the visitor has finished with. */
class StopWalk {}

function limitError(code: string, where: string, message: string): CibError {
  return new CibError(problem(`base.limit.${code}`, where, message));
}

function mib(bytes: number): string {
  return `${Math.round((bytes / 2 ** 20) * 10) / 10} MiB`;
}

function entrySizeError(entry: ArchiveEntry, limits: WalkLimits): CibError {
  return limitError(
    'entry',
    entry.name,
    `This entry holds ${entry.size} bytes, more than the ${mib(limits.maxEntryBytes)} allowed for it.`,
  );
}

/** The ArchiveEntry for a tar entry as the scanner met it (a file or a folder: the profile). */
export function tarArchiveEntry(info: TarEntryInfo): ArchiveEntry {
  return {
    name: info.name,
    path: extractedPath(info.name, 'tar'),
    exactPath: info.path,
    style: 'tar',
    type: info.typeflag === '5' ? 'directory' : 'file',
    size: info.size,
    mode: info.mode & 0o7777,
    offset: info.offset,
  };
}

/**
 * The tgz walk in push form, for callers that already hold a stream (the streaming customiser):
 * gunzip in small pieces (every member's CRC-32 checked) -> tar scan -> visitor. Once the visitor
 * is done, `push` ignores further input.
 */
export class TgzWalker {
  readonly summary: WalkSummary = { entries: 0, inflated: 0, stopped: false };
  private readonly gzip: GzipReader;
  private readonly scanner: TarScanner;
  private current: { entry: ArchiveEntry; chunks: Uint8Array[]; got: number } | undefined;
  /** The tar bytes being pushed are the walker's to keep: an entry inside them needs no copy. */
  private owned = false;

  /**
   * `fragment`: the bytes are only the first members of an append-ready base (its end member is
   * checked apart), so the tar's end-of-archive blocks are not required.
   */
  constructor(
    private readonly visitor: EntryVisitor,
    private readonly limits: WalkLimits = DEFAULT_WALK_LIMITS,
    fragment = false,
  ) {
    this.scanner = new TarScanner(
      () => {},
      undefined,
      {
        entry: (info) => this.onHeader(info),
        data: (chunk) => this.onData(chunk),
      },
      { fragment },
    );
    this.gzip = new GzipReader((chunk) => this.onInflated(chunk), {
      piece: limits.inflatePiece ?? WALK_INFLATE_PIECE,
    });
  }

  /** Compressed offsets at which each gzip member starts, as far as read. */
  get memberOffsets(): readonly number[] {
    return this.gzip.memberOffsets;
  }

  push(chunk: Uint8Array, final = false): void {
    if (this.summary.stopped) return;
    try {
      this.gzip.push(chunk, final);
      if (final) this.scanner.finish();
    } catch (error) {
      if (!(error instanceof StopWalk)) throw error;
      this.summary.stopped = true;
    }
  }

  /**
   * Tar bytes inflated elsewhere (whole members, members.ts), pushed in order instead of through
   * `push`; `owned` when the chunk is never reused, so entries inside it are handed out uncopied.
   */
  pushTar(chunk: Uint8Array, owned = false): void {
    if (this.summary.stopped) return;
    this.owned = owned;
    try {
      this.onInflated(chunk);
    } catch (error) {
      if (!(error instanceof StopWalk)) throw error;
      this.summary.stopped = true;
    } finally {
      this.owned = false;
    }
  }

  /** The end of the tar bytes given to `pushTar`. */
  endTar(): void {
    if (this.summary.stopped) return;
    this.scanner.finish();
  }

  /** Refuses, before inflating, a member that would take the walk past its cap. */
  assertWithinTotal(inflated: number): void {
    if (inflated > this.limits.maxTotalBytes) {
      throw limitError(
        'total',
        this.current?.entry.name ?? 'tar',
        `The archive inflates to more than ${mib(this.limits.maxTotalBytes)}; no installer is that large.`,
      );
    }
  }

  private deliver(entry: ArchiveEntry, data?: Uint8Array): void {
    this.summary.entries++;
    this.visitor.onEntry(entry, data);
    if (this.visitor.done?.()) throw new StopWalk();
  }

  private onHeader(info: TarEntryInfo): boolean {
    const entry = tarArchiveEntry(info);
    if (entry.type !== 'file' || !this.visitor.wantsData(entry)) {
      this.deliver(entry);
      return false;
    }
    if (entry.size > this.limits.maxEntryBytes) throw entrySizeError(entry, this.limits);
    if (entry.size === 0) {
      this.deliver(entry, new Uint8Array(0));
      return false;
    }
    this.current = { entry, chunks: [], got: 0 };
    return true;
  }

  private onData(chunk: Uint8Array): void {
    const wanted = this.current!;
    if (this.owned && wanted.got === 0 && chunk.length === wanted.entry.size) {
      this.current = undefined;
      this.deliver(wanted.entry, chunk);
      return;
    }
    wanted.chunks.push(chunk.slice()); // a copy, so the inflater's larger buffer can go
    wanted.got += chunk.length;
    if (wanted.got === wanted.entry.size) {
      this.current = undefined;
      this.deliver(wanted.entry, concatBytes(wanted.chunks));
    }
  }

  private onInflated(chunk: Uint8Array): void {
    this.summary.inflated += chunk.length;
    this.assertWithinTotal(this.summary.inflated);
    this.scanner.push(chunk);
  }
}

/** A tgz's bytes: whole, a Web stream, or any async iterable of chunks (a file read in Node). */
export type TgzInput = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** The chunks of `input` in order; leaving the loop early cancels a stream. */
export async function* chunksOf(input: TgzInput): AsyncGenerator<Uint8Array> {
  if (input instanceof Uint8Array) {
    yield input;
    return;
  }
  if (!('getReader' in input)) {
    yield* input;
    return;
  }
  const reader = input.getReader();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        return;
      }
      yield value;
    }
  } finally {
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The chunks of `input`, each also handed to `tail`. */
async function* keepingTail(
  input: AsyncIterable<Uint8Array>,
  tail: ZipTail,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of input) {
    tail.push(chunk);
    yield chunk;
  }
}

/**
 * Walks a gzip-compressed tar as it streams in, inflating each piece once: members that declare
 * their length whole, where the limits allow it (members.ts), the rest in pieces.
 */
export async function walkTgz(
  input: TgzInput,
  visitor: EntryVisitor,
  limits: WalkLimits = DEFAULT_WALK_LIMITS,
  options: WalkOptions = {},
): Promise<WalkSummary> {
  const walker = new TgzWalker(visitor, limits);
  const inflate =
    limits.memberBytes && options.inflateMember !== null
      ? (options.inflateMember ?? (await nativeInflater()))
      : undefined;
  if (inflate) {
    // The member readers each see part of the file; the whole file's end is checked here, as a
    // sequential GzipReader checks it (docs/formats.md, "Strict archive profile": not also a zip).
    const tail = new ZipTail();
    await walkMembers(keepingTail(chunksOf(input), tail), walker, {
      inflate,
      memberBytes: limits.memberBytes!,
      piece: limits.inflatePiece ?? WALK_INFLATE_PIECE,
      parallel: options.parallel ?? 4,
      ...(options.onMemberRead ? { onMemberRead: options.onMemberRead } : {}),
      ...(options.allocate ? { allocate: options.allocate } : {}),
    });
    if (!walker.summary.stopped) tail.check();
    return walker.summary;
  }
  if (input instanceof Uint8Array) {
    walker.push(input, true);
    return walker.summary;
  }
  for await (const value of chunksOf(input)) {
    if (value.length) walker.push(value);
    if (walker.summary.stopped) break;
  }
  if (!walker.summary.stopped) walker.push(new Uint8Array(0), true);
  return walker.summary;
}

/**
 * Walks a zip in central-directory order (what unzip extracts). Entries nobody wants are never
 * inflated; a wanted entry declaring more than the caps allow is refused before allocation.
 */
export function walkZip(
  bytes: Uint8Array,
  visitor: EntryVisitor,
  limits: WalkLimits = DEFAULT_WALK_LIMITS,
): WalkSummary {
  const summary: WalkSummary = { entries: 0, inflated: 0, stopped: false };
  for (const zipEntry of listZipEntries(bytes)) {
    // The zip reader let only files and folders through, their names and attributes agreeing.
    const type = zipEntry.isDirectory ? 'directory' : 'file';
    const entry: ArchiveEntry = {
      name: zipEntry.name,
      path: extractedPath(zipEntry.name, 'zip'),
      exactPath: zipEntry.exactPath,
      style: 'zip',
      type,
      size: zipEntry.uncompressedSize,
      ...(zipEntry.unixMode ? { mode: zipEntry.unixMode & 0o7777 } : {}),
    };
    let data: Uint8Array | undefined;
    if (type === 'file' && visitor.wantsData(entry)) {
      if (entry.size > limits.maxEntryBytes) throw entrySizeError(entry, limits);
      if (summary.inflated + entry.size > limits.maxTotalBytes) {
        throw limitError(
          'total',
          entry.name,
          `The entries asked for inflate to more than ${mib(limits.maxTotalBytes)}; no installer is that large.`,
        );
      }
      data = readZipEntry(bytes, zipEntry, limits.maxEntryBytes);
      summary.inflated += data.length;
    }
    summary.entries++;
    visitor.onEntry(entry, data);
    if (visitor.done?.()) {
      summary.stopped = true;
      break;
    }
  }
  return summary;
}

// Magic numbers as in index.ts: gzip, a zip's local header or empty end record.
function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}
function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5);
}

/**
 * Walks any tgz or zip installer; a tgz streams from the source, a zip is read whole (its
 * directory is at its end, and only wanted entries are inflated). Other formats have no entries.
 */
export async function walkEntries(
  source: InstallerSource | Uint8Array,
  visitor: EntryVisitor,
  limits: WalkLimits = DEFAULT_WALK_LIMITS,
  options: WalkOptions = {},
): Promise<WalkSummary | undefined> {
  const from = source instanceof Uint8Array ? bytesSource(source) : source;
  const head = await from.head(4);
  if (isGzip(head))
    return walkTgz(from.chunks ? from.chunks() : from.stream(), visitor, limits, options);
  if (isZip(head)) return walkZip(await from.bytes(), visitor, limits);
  return undefined;
}
