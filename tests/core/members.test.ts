/**
 * The append-ready layout's entries members that say their own length, and the walk that
 * inflates them whole (here with Node's zlib, as `cib` and the server do; the page's
 * DecompressionStream threads are driven by the browser tests): same entries as the sequential
 * reader, and every lie about a member's length or contents refused.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ArchiveEntry, EntryVisitor } from '../../src/core/archive/entries.ts';
import { writeGzipMember, writeZerosGzipMember } from '../../src/core/archive/gzip.ts';
import { sizedMemberAt } from '../../src/core/archive/members.ts';
import { TAR_BLOCK, endOfArchiveLength, writeTarEntry } from '../../src/core/archive/tar.ts';
import {
  ENTRIES_MEMBER_BYTES,
  markerSubfield,
  writeEndMember,
} from '../../src/core/archive/tgz-layout.ts';
import {
  customizeTgz,
  isAppendReady,
  writeAppendReadyTgz,
  type TgzEntryInput,
} from '../../src/core/archive/tgz.ts';
import { walkTgz, type WalkLimits } from '../../src/core/archive/walk.ts';
import { CibError } from '../../src/core/problems.ts';
import { zlibMemberInflater } from '../../src/host/inflate.ts';

const work = mkdtempSync(join(tmpdir(), 'members-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
function save(bytes: Uint8Array): string {
  const file = join(work, `${counter++}.tgz`);
  writeFileSync(file, bytes);
  return file;
}

/** About 2.4 MiB of text files and one 1.5 MiB incompressible file: three or more members. */
function bigTree(): TgzEntryInput[] {
  let x = 99;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24);
  const entries: TgzEntryInput[] = [
    { path: 'seattle', mode: 0o755, mtime: 1_700_000_000, type: 'directory' },
    { path: 'seattle/seattle_repy', mode: 0o755, mtime: 1_700_000_000, type: 'directory' },
  ];
  for (let i = 0; i < 400; i++) {
    const line = `def f${i}(x): return x * ${next()} + ${next()}\n`;
    entries.push({
      path: `seattle/seattle_repy/module_${i}.py`,
      data: new TextEncoder().encode(line.repeat(150 + (next() % 100))),
      mode: 0o644,
      mtime: 1_700_000_000 + i,
    });
  }
  entries.push({
    path: 'seattle/seattle_repy/blob.bin',
    data: new Uint8Array(1_500_000).map(next),
    mode: 0o644,
    mtime: 1_700_000_500,
  });
  return entries;
}

const BASE = writeAppendReadyTgz(bigTree());

/** The members of a base, as their headers say they are cut. */
function members(base: Uint8Array): { at: number; length: number }[] {
  const found: { at: number; length: number }[] = [];
  let at = 0;
  for (;;) {
    const sized = sizedMemberAt(base.subarray(at));
    if (!sized || 'need' in sized) return found;
    found.push({ at, length: sized.length });
    at += sized.length;
  }
}

/** Every entry the walk hands out, with the SHA-256 of the file data. */
async function walked(
  base: Uint8Array,
  options: Parameters<typeof walkTgz>[3],
  limits: Partial<WalkLimits> = {},
): Promise<string[]> {
  const seen: string[] = [];
  const visitor: EntryVisitor = {
    wantsData: () => true,
    onEntry(entry: ArchiveEntry, data?: Uint8Array) {
      const digest = data ? createHash('sha256').update(data).digest('hex') : '-';
      seen.push(`${entry.name} ${entry.type} ${entry.size} ${digest}`);
    },
  };
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      // Arriving in odd pieces, so members and headers straddle them.
      for (let at = 0; at < base.length; at += 70_001)
        controller.enqueue(base.subarray(at, at + 70_001));
      controller.close();
    },
  });
  await walkTgz(
    chunks,
    visitor,
    {
      maxEntryBytes: 128 << 20,
      maxTotalBytes: 128 << 20,
      inflatePiece: 1 << 16,
      memberBytes: 16 << 20,
      ...limits,
    },
    options,
  );
  return seen;
}

async function refusal(base: Uint8Array, limits: Partial<WalkLimits> = {}): Promise<CibError> {
  try {
    await walked(base, { inflateMember: zlibMemberInflater }, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(CibError);
    return error as CibError;
  }
  throw new Error('expected the walk to refuse the base');
}

/** `base` with its first member's `deflate=N` replaced (same number of digits). */
function withDeflateLength(base: Uint8Array, change: number): Uint8Array {
  const text = Buffer.from(base.subarray(0, 80)).toString('latin1');
  const match = /deflate=(\d+)/.exec(text)!;
  const value = String(Number(match[1]) + change);
  expect(value.length).toBe(match[1]!.length);
  const copy = base.slice();
  copy.set(new TextEncoder().encode(value), match.index + 'deflate='.length);
  return copy;
}

describe('entries members that say their length', () => {
  it('cut a large base at entry boundaries into members that tile it, read unchanged by gzip, GNU tar and Python', () => {
    expect(isAppendReady(BASE)).toBe(true);
    const found = members(BASE);
    expect(found.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < found.length; i++) {
      expect(found[i]!.at).toBe(found[i - 1]!.at + found[i - 1]!.length);
    }
    // After the sized members come the end member (no vesselinfo in a base).
    const rest = BASE.subarray(found.at(-1)!.at + found.at(-1)!.length);
    expect(rest.length).toBeLessThan(200);
    const file = save(BASE);
    execFileSync('gzip', ['-t', file]);
    const tarNames = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).trim().split('\n');
    expect(tarNames).toHaveLength(bigTree().length);
    const pythonCount = execFileSync(
      'python3',
      ['-c', 'import sys, tarfile\nprint(len(tarfile.open(sys.argv[1]).getmembers()))', file],
      { encoding: 'utf8' },
    );
    expect(Number(pythonCount)).toBe(bigTree().length);
    // Every member but the one holding the large file inflates to about ENTRIES_MEMBER_BYTES.
    const sizes = found.map(({ at, length }) =>
      new DataView(BASE.buffer, BASE.byteOffset + at + length - 4, 4).getUint32(0, true),
    );
    expect(sizes.slice(0, -1).every((s) => s >= ENTRIES_MEMBER_BYTES)).toBe(true);
    expect(sizes.every((s) => s % TAR_BLOCK === 0)).toBe(true);
  });

  it('walk to the same entries and bytes whole (zlib, several at once) as in pieces', async () => {
    const sequential = await walked(BASE, { inflateMember: null });
    expect(sequential).toHaveLength(bigTree().length);
    expect(await walked(BASE, { inflateMember: zlibMemberInflater, parallel: 3 })).toEqual(
      sequential,
    );
    // Members larger than memberBytes are read in pieces, in their turn.
    expect(
      await walked(BASE, { inflateMember: zlibMemberInflater }, { memberBytes: 1_200_000 }),
    ).toEqual(sequential);
  });

  it('copy every member into the buffers an allocator gives, and hand each out as owned', async () => {
    // As the page's pool does (src/worker/buffer-shelf.ts): views into larger buffers that held
    // other bytes before, here garbage, and one buffer used again once its member is inflated.
    const sequential = await walked(BASE, { inflateMember: null });
    let reused: ArrayBuffer | undefined;
    const lengths: number[] = [];
    const owned: boolean[] = [];
    const allocate = (length: number) => {
      lengths.push(length);
      const buffer =
        reused && reused.byteLength >= length ? reused : new ArrayBuffer(length + 4096);
      reused = undefined;
      return new Uint8Array(buffer, 0, length).fill(0xaa);
    };
    const inflateMember: typeof zlibMemberInflater = async (member) => {
      owned.push(member.owned === true);
      const out = await zlibMemberInflater(member);
      reused = member.bytes.buffer as ArrayBuffer;
      return out;
    };
    expect(await walked(BASE, { inflateMember, allocate, parallel: 1 })).toEqual(sequential);
    expect(lengths).toEqual(members(BASE).map((m) => m.length));
    expect(owned.every(Boolean)).toBe(true);
  });

  it('refuse a member whose declared length is a lie, or whose bytes are changed', async () => {
    // A trailer read at the wrong place may also claim more than the cap: refused either way.
    for (const change of [1, -1, 9, -9]) {
      expect((await refusal(withDeflateLength(BASE, change))).code).toMatch(
        /^base\.(gzip|limit)\./,
      );
    }
    const [first] = members(BASE);
    const corrupt = BASE.slice();
    corrupt[first!.at + first!.length - 6]! ^= 0x40; // the trailer's ISIZE
    expect((await refusal(corrupt)).code).toMatch(/^base\.gzip\./);
    const crc = BASE.slice();
    crc[first!.at + first!.length - 8]! ^= 0x01;
    expect((await refusal(crc)).code).toBe('base.gzip.corrupt');
    const cut = BASE.subarray(0, first!.at + first!.length - 3);
    expect((await refusal(cut)).code).toMatch(/^base\.(gzip|tar)\./);
  });

  it('refuse trailing bytes hidden inside a member that a sequential reader would see', async () => {
    // Junk after the deflate data, inside the declared length: gzip -d stops there ("trailing
    // garbage"), so the members after it would be walked but never extracted.
    const [first] = members(BASE);
    const data = new Uint8Array(first!.length + 4);
    data.set(BASE.subarray(first!.at, first!.at + first!.length - 8));
    data.set([0, 1, 2, 3], first!.length - 8);
    data.set(
      BASE.subarray(first!.at + first!.length - 8, first!.at + first!.length),
      first!.length - 4,
    );
    const text = Buffer.from(data.subarray(0, 80)).toString('latin1');
    const match = /deflate=(\d+)/.exec(text)!;
    const longer = String(Number(match[1]) + 4);
    expect(longer.length).toBe(match[1]!.length);
    data.set(new TextEncoder().encode(longer), match.index + 'deflate='.length);
    const forged = new Uint8Array([...data, ...BASE.subarray(first!.length)]);
    expect((await refusal(forged)).code).toBe('base.gzip.corrupt');
  });

  it('refuse, before inflating, members that take the walk past its cap', async () => {
    expect((await refusal(BASE, { maxTotalBytes: 2 << 20 })).code).toBe('base.limit.total');
  });

  it('leave bases in the earlier layout (one entries member without a length) readable and customisable', async () => {
    const tar: Uint8Array[] = bigTree().map((e) =>
      writeTarEntry(
        {
          name: e.path,
          mode: e.mode,
          size: e.data?.length ?? 0,
          mtime: e.mtime,
          type: e.type ?? 'file',
        },
        e.data,
      ),
    );
    const entries = Buffer.concat(tar);
    const member = writeGzipMember(entries, 6, markerSubfield('role=entries'));
    const end = writeEndMember(member.length, member, entries.length, 'none', 1_700_000_500);
    const old = new Uint8Array([...member, ...end]);
    expect(isAppendReady(old)).toBe(true);
    expect(members(old)).toEqual([]);
    expect(endOfArchiveLength(entries.length)).toBeGreaterThan(0);
    expect(await walked(old, { inflateMember: zlibMemberInflater })).toEqual(
      await walked(BASE, { inflateMember: null }),
    );
    const out = customizeTgz(old, 'Percent 100\nOwner 65537 1001');
    const names = execFileSync('tar', ['-tzf', save(out)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    expect(names.at(-1)).toBe('seattle/seattle_repy/vesselinfo');
  });
});

describe('the end member', () => {
  it('is deflated by our own code into zeros that gzip and Python inflate, for any length', () => {
    const lengths = [0, 1, 2, 3, 4, 5, 257, 258, 259, 260, 261, 262, 516, 517, 1024, 10240, 11263];
    const file = save(Buffer.concat(lengths.map((n) => writeZerosGzipMember(n, 9))));
    const out = execFileSync('gzip', ['-dc', file]);
    expect(out.length).toBe(lengths.reduce((a, b) => a + b, 0));
    expect(out.every((b) => b === 0)).toBe(true);
    // Python reads every member on its own and checks each CRC-32 and length.
    const sizes = execFileSync(
      'python3',
      [
        '-c',
        [
          'import sys, zlib',
          'data = open(sys.argv[1], "rb").read()',
          'while data:',
          '    d = zlib.decompressobj(16 + 15)',
          '    out = d.decompress(data)',
          '    assert d.eof and not any(out)',
          '    print(len(out))',
          '    data = d.unused_data',
        ].join('\n'),
        file,
      ],
      { encoding: 'utf8' },
    );
    expect(sizes.trim().split('\n').map(Number)).toEqual(lengths);
  });
});
