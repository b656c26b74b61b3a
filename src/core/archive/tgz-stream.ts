/**
 * Customising a tgz installer, whole or as a Web Stream (docs/formats.md#append-ready-tgz): an
 * append-ready base is spliced after its entries are walked; any other base takes the generic
 * path, which recompresses its entries into the layout.
 */
import { Deflate } from 'fflate';
import { concatBytes } from '../bytes.ts';
import { CibError } from '../problems.ts';
import { crc32 } from './crc32.ts';
import {
  GzipReader,
  writeGzipHeader,
  writeGzipTrailer,
  type DeflateLevel,
  type GzipSubfield,
} from './gzip.ts';
import { TarScanner, type TarScanResult } from './tar.ts';
import {
  GENERIC_LEVEL,
  badBase,
  findAppendReady,
  markerSubfield,
  roleOf,
  spliceAppendReadyParts,
  vesselinfoEntry,
  vesselinfoMember,
  writeEndMember,
  type AppendReady,
} from './tgz-layout.ts';
import { VESSELINFO_PATH, VesselinfoFinder } from './vesselinfo-entries.ts';
import { TgzWalker, tarArchiveEntry, type WalkLimits } from './walk.ts';
import { MAX_VESSELINFO_BYTES } from '../vesselinfo.ts';

/**
 * Customising reads only names, from an operator's base it streams: no cap on its total size, and
 * the generic path's larger inflate pieces (its memory was never bounded against a bomb base).
 */
const CUSTOMIZE_LIMITS: WalkLimits = {
  maxEntryBytes: MAX_VESSELINFO_BYTES,
  maxTotalBytes: Number.POSITIVE_INFINITY,
  inflatePiece: 1 << 18,
};
// ---------------------------------------------------------------------------------------------
// Customising

export interface CustomizeTgzOptions {
  /**
   * The caller has verified the base's bytes (the manifest SHA-256): no CRC pass of its own.
   * Unless `knownClean` too, the entries are still inflated, to check their names.
   */
  baseVerified?: boolean;
  /**
   * The caller walked these very bytes (with `baseVerified`, the same SHA-256) and found no entry
   * extracting to the vesselinfo: the splice may then skip its own walk (checkBase, base-check.ts).
   */
  knownClean?: boolean;
  /** Deflate level for the generic path's recompression. */
  level?: DeflateLevel;
}

/**
 * Adds (or replaces) `seattle/seattle_repy/vesselinfo`; the output is itself append-ready. A base
 * with more than one entry extracting to that path, or one that is not a regular file, is refused
 * (VesselinfoFinder), so the entries are always read, even of a base whose SHA-256 was checked.
 */
export function customizeTgz(
  base: Uint8Array,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): Uint8Array {
  return concatBytes(customizeTgzParts(base, vesselinfo, options));
}

/**
 * customizeTgz as the pieces that make up the output, in order. For an append-ready base the first
 * piece is a view into `base` (no copy), so a caller holding the base elsewhere (a Blob) can
 * assemble the file without touching its bytes.
 */
export function customizeTgzParts(
  base: Uint8Array,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): Uint8Array[] {
  const ready = findAppendReady(base);
  if (ready && ready.marker.vesselinfo !== 'inside') {
    if (options.knownClean && options.baseVerified)
      return spliceAppendReadyParts(base, ready, vesselinfo);
    // Walk the entries before the cut: they must hold no vesselinfo the splice would keep.
    const finder = new VesselinfoFinder(false);
    const walker = new TgzWalker(finder, CUSTOMIZE_LIMITS, true);
    walker.push(base.subarray(0, ready.cut), true);
    if (finder.matches.length === 0) {
      if (walker.summary.inflated !== ready.cutTar) {
        throw badBase(
          'gzip.size',
          'byte 0',
          'The base does not match its own append-ready marker.',
        );
      }
      return spliceAppendReadyParts(base, ready, vesselinfo);
    }
    // A vesselinfo the marker does not account for: the generic path drops or refuses it.
  }
  const out: Uint8Array[] = [];
  const customizer = new GenericCustomizer(vesselinfo, options.level ?? GENERIC_LEVEL, (c) =>
    out.push(c),
  );
  customizer.push(base, true);
  return out;
}
const DEFLATE_PIECE = 1 << 16;

/** Raw-deflate stream wrapped in our own gzip header and trailer, so we can mark the member. */
class GzipMemberWriter {
  private readonly deflate: Deflate;
  private crc = 0;
  private size = 0;
  private written = 0;
  private lastTrailer: Uint8Array = new Uint8Array(0);
  private readonly buffer = new Uint8Array(DEFLATE_PIECE);
  private pending = 0;

  constructor(
    level: DeflateLevel,
    subfield: GzipSubfield,
    private readonly emit: (chunk: Uint8Array) => void,
  ) {
    this.deflate = new Deflate({ level }, (chunk) => this.out(chunk));
    this.out(writeGzipHeader(level, subfield));
  }
  push(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    // fflate deflates far faster in moderate pieces than in one huge or many tiny pushes.
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(DEFLATE_PIECE - this.pending, chunk.length - at);
      this.buffer.set(chunk.subarray(at, at + n), this.pending);
      this.pending += n;
      at += n;
      if (this.pending === DEFLATE_PIECE) {
        this.deflate.push(this.buffer.slice(), false);
        this.pending = 0;
      }
    }
  }
  finish(): { length: number; trailer: Uint8Array } {
    this.deflate.push(this.buffer.slice(0, this.pending), true);
    this.pending = 0;
    this.lastTrailer = writeGzipTrailer(this.crc, this.size);
    this.out(this.lastTrailer);
    return { length: this.written, trailer: this.lastTrailer };
  }
  private out(chunk: Uint8Array): void {
    if (!chunk.length) return;
    this.written += chunk.length;
    this.emit(chunk);
  }
}

/**
 * The generic path, push-based so it serves both the whole-buffer and the streaming form:
 * gunzip (checking every member) -> tar scan (dropping an old vesselinfo and the end blocks) ->
 * deflate into an entries member, then the vesselinfo and end members. Memory stays bounded by
 * fflate's windows and our chunk sizes.
 */
export class GenericCustomizer {
  private readonly reader: GzipReader;
  private readonly scanner: TarScanner;
  private readonly entries: GzipMemberWriter;

  constructor(
    private readonly vesselinfo: string,
    private readonly level: DeflateLevel,
    private readonly emit: (chunk: Uint8Array) => void,
  ) {
    this.entries = new GzipMemberWriter(level, markerSubfield('role=entries'), emit);
    const finder = new VesselinfoFinder(false);
    this.scanner = new TarScanner((bytes) => this.entries.push(bytes), VESSELINFO_PATH, {
      entry(info) {
        finder.onEntry(tarArchiveEntry(info));
        finder.assertUnambiguous(); // refused at once, before the rest is recompressed
        return false;
      },
      data() {},
    });
    this.reader = new GzipReader((chunk) => this.scanner.push(chunk));
  }

  push(chunk: Uint8Array, final = false): void {
    this.reader.push(chunk, final);
    if (final) this.finish(this.scanner.finish());
  }

  private finish(scan: TarScanResult): void {
    const keptLength = scan.entriesEnd - scan.dropped.reduce((n, [s, e]) => n + (e - s), 0);
    const { length } = this.entries.finish();
    const entry = vesselinfoEntry(this.vesselinfo, scan.newestMtime);
    const member = vesselinfoMember(entry);
    this.emit(member);
    this.emit(
      writeEndMember(
        length + member.length,
        member,
        keptLength + entry.length,
        length,
        scan.newestMtime,
      ),
    );
  }
}
// ---------------------------------------------------------------------------------------------
// Streaming form

/** Held back in pass-through mode: enough for our (stored) vesselinfo member and end member. */
const HOLD_BACK_BYTES = MAX_VESSELINFO_BYTES + (1 << 20);

/** Where a customizing stream sends each chunk once it knows which kind of base it reads. */
interface StreamPath {
  push(chunk: Uint8Array): void;
  finish(): void;
}

/**
 * customizeTgz over Web Streams, for bases too large to hold twice. A base whose first member
 * carries our `role=entries` marker is passed through (the last MiB held back until the end shows
 * where to cut) while its members are inflated alongside to check their CRC-32 and entry names;
 * any other base takes the generic path chunk by chunk. Errors abort the stream, so an ambiguous
 * base leaves no output.
 */
export function customizeTgzStream(
  input: ReadableStream<Uint8Array>,
  vesselinfo: string,
  options: CustomizeTgzOptions = {},
): ReadableStream<Uint8Array> {
  let head: Uint8Array = new Uint8Array(0);
  let path: StreamPath | undefined;
  return input.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (path) return path.push(chunk);
        // Undecided: gather the first member's header, then choose the path and give it all.
        head = concatBytes([head, chunk]);
        const first = firstMemberRole(head);
        if (!first) return;
        const emit = (c: Uint8Array) => controller.enqueue(c);
        path =
          first.role === 'entries'
            ? new PassThroughPath(vesselinfo, options, emit)
            : genericPath(vesselinfo, options, emit);
        path.push(head);
      },
      flush(controller) {
        // Short input: decide on what we have (and let the checks report what is wrong).
        if (!path) controller.enqueue(customizeTgz(head, vesselinfo, options));
        else path.finish();
      },
    }),
  );
}

/** The first member's role, or undefined while its header is still incomplete (up to 64 KiB). */
function firstMemberRole(head: Uint8Array): { role: string | undefined } | undefined {
  try {
    return { role: roleOf(head, 0) };
  } catch (error) {
    const truncated = error instanceof CibError && error.code === 'base.gzip.truncated';
    if (truncated && head.length < 65536) return undefined;
    throw error;
  }
}

/** Any base that is not append-ready: rewritten chunk by chunk. */
function genericPath(
  vesselinfo: string,
  options: CustomizeTgzOptions,
  emit: (chunk: Uint8Array) => void,
): StreamPath {
  const generic = new GenericCustomizer(vesselinfo, options.level ?? GENERIC_LEVEL, emit);
  return {
    push: (chunk) => generic.push(chunk),
    finish: () => generic.push(new Uint8Array(0), true),
  };
}

/**
 * An append-ready base: passed through as it comes, the last HOLD_BACK_BYTES held until the end
 * marker shows where to cut, and its members inflated alongside (unless the caller already walked
 * these verified bytes) because the entry names decide whether the base is ambiguous.
 */
class PassThroughPath implements StreamPath {
  private readonly finder = new VesselinfoFinder(false);
  private readonly checker: TgzWalker | undefined;
  private held: Uint8Array[] = [];
  private heldLength = 0;
  private emitted = 0;

  constructor(
    private readonly vesselinfo: string,
    options: CustomizeTgzOptions,
    private readonly emit: (chunk: Uint8Array) => void,
  ) {
    if (!(options.knownClean && options.baseVerified))
      this.checker = new TgzWalker(this.finder, CUSTOMIZE_LIMITS);
  }

  push(chunk: Uint8Array): void {
    this.checker?.push(chunk);
    this.held.push(chunk);
    this.heldLength += chunk.length;
    while (this.held.length > 1 && this.heldLength - this.held[0]!.length >= HOLD_BACK_BYTES) {
      const first = this.held.shift()!;
      this.heldLength -= first.length;
      this.emitted += first.length;
      this.emit(first);
    }
  }

  /** Checks the whole base, then writes the held tail cut at the marker and the new end. */
  finish(): void {
    this.checker?.push(new Uint8Array(0), true);
    this.finder.assertUnambiguous();
    const tail = concatBytes(this.held);
    this.held = [];
    const found = this.checkedCut(tail);
    this.emit(concatBytes(spliceAppendReadyParts(tail, found, this.vesselinfo, this.emitted)));
  }

  /** Where the end marker says to cut, refused unless the marker and the walk agree on it. */
  private checkedCut(tail: Uint8Array): AppendReady {
    const found = findAppendReady(tail, this.emitted);
    if (!found || found.marker.vesselinfo === 'inside' || found.cut < this.emitted) {
      throw badBase(
        'tgz.layout',
        'end of file',
        'The base starts like an append-ready base but its end marker is missing or damaged.',
      );
    }
    if (this.checker && !this.checker.memberOffsets.includes(found.cut)) {
      throw badBase(
        'tgz.layout',
        'end of file',
        'The append-ready marker does not point at a gzip member.',
      );
    }
    const stray = this.finder.matches.find((m) => (m.offset ?? 0) < found.cutTar);
    if (stray) {
      throw badBase(
        'tgz.layout',
        stray.name,
        'This vesselinfo entry lies where the append-ready marker says there is none; run cib prepare-base on the base.',
      );
    }
    return found;
  }
}
