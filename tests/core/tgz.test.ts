import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gunzipChecked, storedDeflate } from '../../src/core/archive/gzip.ts';
import {
  VESSELINFO_PATH,
  customizeTgz,
  customizeTgzStream,
  isAppendReady,
  makeAppendReady,
  readTgzEntries,
  readTgzFile,
  writeAppendReadyTgz,
  type TgzEntryInput,
} from '../../src/core/archive/tgz.ts';
import { CibError } from '../../src/core/problems.ts';

const work = mkdtempSync(join(tmpdir(), 'tgz-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => join(work, `${counter++}-${name}`);
const enc = new TextEncoder();
const VESSELINFO =
  'Percent 80\nOwner 65537 1001\nUser 65537 1003\nPercent 20\nOwner 3 55\nUser 3 55';
const NEWEST = 1_700_000_900;

/** A small tree: directories, text, a script and a 300 KiB incompressible file. */
function tree(): TgzEntryInput[] {
  let x = 12345;
  const noise = new Uint8Array(300 * 1024).map(
    () => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24),
  );
  return [
    { path: 'seattle', mode: 0o755, mtime: 1_700_000_000, type: 'directory' },
    { path: 'seattle/seattle_repy', mode: 0o755, mtime: NEWEST, type: 'directory' },
    {
      path: 'seattle/install.sh',
      data: enc.encode('#!/bin/sh\necho hi\n'),
      mode: 0o755,
      mtime: 1_700_000_100,
    },
    {
      path: 'seattle/seattle_repy/nmmain.py',
      data: enc.encode('print("node")\n'.repeat(500)),
      mode: 0o644,
      mtime: 1_700_000_200,
    },
    { path: 'seattle/seattle_repy/blob.bin', data: noise, mode: 0o644, mtime: 1_700_000_300 },
    {
      path: 'seattle/seattle_repy/empty.txt',
      data: new Uint8Array(0),
      mode: 0o600,
      mtime: 1_700_000_400,
    },
  ];
}

function writeTree(dir: string, entries: TgzEntryInput[]): void {
  for (const e of entries) {
    const path = join(dir, e.path);
    if (e.type === 'directory') mkdirSync(path, { recursive: true, mode: e.mode });
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, e.data ?? new Uint8Array(0), { mode: e.mode });
    }
  }
  // Set times after writing, deepest first, so directory mtimes stick.
  for (const e of [...entries].reverse()) {
    execFileSync('touch', ['-d', `@${e.mtime}`, join(dir, e.path)]);
  }
}

/** Bases written the ways operators write them. */
function pythonBase(entries: TgzEntryInput[], extra = ''): Uint8Array {
  const dir = fresh('py-src');
  writeTree(dir, entries);
  const out = fresh('py.tgz');
  execFileSync('python3', [
    '-c',
    `import sys, tarfile\nwith tarfile.open(sys.argv[2], "w:gz") as t:\n  t.add(sys.argv[1] + "/seattle", arcname="seattle")\n${extra}`,
    dir,
    out,
  ]);
  return readFileSync(out);
}

function gnuBase(entries: TgzEntryInput[]): Uint8Array {
  const dir = fresh('gnu-src');
  writeTree(dir, entries);
  const out = fresh('gnu.tgz');
  execFileSync('tar', ['czf', out, '-C', dir, 'seattle']);
  return readFileSync(out);
}

function save(bytes: Uint8Array, name = 'out.tgz'): string {
  const file = fresh(name);
  writeFileSync(file, bytes);
  return file;
}

function tarList(bytes: Uint8Array): string[] {
  return execFileSync('tar', ['-tzf', save(bytes)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((n) => n.replace(/\/$/, ''));
}

function pythonList(bytes: Uint8Array): string[] {
  const out = execFileSync(
    'python3',
    [
      '-c',
      'import sys, tarfile\nfor m in tarfile.open(sys.argv[1], "r:gz"): print(m.name)',
      save(bytes),
    ],
    { encoding: 'utf8' },
  );
  return out.trim().split('\n');
}

/** Extracts with GNU tar and returns {relative path: [mode, content-or-dir]}. */
function extract(bytes: Uint8Array): Map<string, { mode: number; data?: string }> {
  const dir = fresh('x');
  mkdirSync(dir);
  execFileSync('tar', ['-xzf', save(bytes), '-C', dir]);
  const found = new Map<string, { mode: number; data?: string }>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const path = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, path));
      if (st.isDirectory()) {
        found.set(path, { mode: st.mode & 0o777 });
        walk(path);
      } else
        found.set(path, { mode: st.mode & 0o777, data: readFileSync(join(dir, path), 'latin1') });
    }
  };
  walk('');
  return found;
}

function gzipTest(bytes: Uint8Array): void {
  execFileSync('gzip', ['-t', save(bytes)]);
}

function expectBaseError(run: () => unknown): CibError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CibError);
    expect((error as CibError).code).toMatch(/^base\./);
    return error as CibError;
  }
  throw new Error('expected a CibError');
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

const kinds: [string, () => Uint8Array][] = [
  ['our append-ready writer', () => writeAppendReadyTgz(tree())],
  ["Python's tarfile w:gz", () => pythonBase(tree())],
  ['GNU tar czf', () => gnuBase(tree())],
];

describe('append-ready bases', () => {
  it('are one gzip stream of several members that gzip, GNU tar and Python read whole', () => {
    const base = writeAppendReadyTgz(tree());
    expect(isAppendReady(base)).toBe(true);
    gzipTest(base);
    const expected = [
      'seattle',
      'seattle/seattle_repy',
      'seattle/install.sh',
      'seattle/seattle_repy/nmmain.py',
      'seattle/seattle_repy/blob.bin',
      'seattle/seattle_repy/empty.txt',
    ];
    expect(tarList(base)).toEqual(expected);
    expect(pythonList(base)).toEqual(expected);
    // More than one member: the bytes `gzip -dc` returns equal our own multi-member reading.
    const plain = execFileSync('gzip', ['-dc', save(base)]);
    expect(new Uint8Array(plain)).toEqual(gunzipChecked(base));
    expect(plain.length % 10240).toBe(0);
  });

  it('are not detected in plain Python, GNU tar or truncated files', () => {
    expect(isAppendReady(pythonBase(tree()))).toBe(false);
    expect(isAppendReady(gnuBase(tree()))).toBe(false);
    const base = writeAppendReadyTgz(tree());
    expect(isAppendReady(base.subarray(0, base.length - 1))).toBe(false);
    const flipped = base.slice();
    flipped[flipped.length - 20]! ^= 0x40;
    expect(isAppendReady(flipped)).toBe(false);
  });

  it('prepare keeps every entry byte for byte (Python and GNU tar bases)', async () => {
    for (const base of [pythonBase(tree()), gnuBase(tree())]) {
      const ready = makeAppendReady(base);
      expect(isAppendReady(ready)).toBe(true);
      expect(await readTgzEntries(ready)).toEqual(await readTgzEntries(base));
      expect(tarList(ready)).toEqual(tarList(base));
      // The tar bytes up to the end blocks are identical.
      const a = gunzipChecked(base);
      const b = gunzipChecked(ready);
      const entriesEnd = b.length - 10240 + 1024; // our small tree fits in one record
      expect(b.subarray(0, entriesEnd - 1024)).toEqual(a.subarray(0, entriesEnd - 1024));
    }
  });
});

describe('customizeTgz', () => {
  for (const [kind, make] of kinds) {
    it(`adds exactly the vesselinfo, mode 0644, to a base from ${kind}`, async () => {
      const base = make();
      const out = customizeTgz(base, VESSELINFO);
      gzipTest(out);
      expect(isAppendReady(out)).toBe(true);
      expect(tarList(out)).toEqual([...tarList(base), VESSELINFO_PATH]);
      expect(pythonList(out)).toEqual([...pythonList(base), VESSELINFO_PATH]);
      const before = extract(base);
      const after = extract(out);
      expect(after.get(VESSELINFO_PATH)).toEqual({ mode: 0o644, data: VESSELINFO });
      after.delete(VESSELINFO_PATH);
      expect(after).toEqual(before);
      const entry = (await readTgzEntries(out)).at(-1)!;
      expect(entry).toMatchObject({
        path: VESSELINFO_PATH,
        mode: 0o644,
        uid: 0,
        gid: 0,
        uname: '',
        gname: '',
        mtime: NEWEST,
      });
    });
  }

  it('copies the append-ready base in front of the new members byte for byte', () => {
    const base = writeAppendReadyTgz(tree());
    const out = customizeTgz(base, VESSELINFO);
    const endMember = 200; // our end member is well under this
    expect(out.subarray(0, base.length - endMember)).toEqual(
      base.subarray(0, base.length - endMember),
    );
  });

  it('writes the vesselinfo member in stored deflate blocks, as zlib reads them', () => {
    // Stored: the vesselinfo text stands in the output as it is, on both paths.
    for (const [, make] of kinds) {
      expect(Buffer.from(customizeTgz(make(), VESSELINFO)).includes(VESSELINFO)).toBe(true);
    }
    // Python's zlib inflates a 70 000-byte stored stream (two blocks) back to the same bytes.
    const raw = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 251);
    const deflated = storedDeflate(raw);
    expect(deflated.length).toBe(raw.length + 10);
    expect(Array.from(deflated.subarray(0, 5))).toEqual([0, 0xff, 0xff, 0, 0]);
    const path = save(deflated, 'stored.raw');
    const echoed = execFileSync('python3', [
      '-c',
      'import sys,zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1],"rb").read(), -15))',
      path,
    ]);
    expect(new Uint8Array(echoed)).toEqual(raw);
  });

  it('is reproducible: the same base and vesselinfo give identical bytes', () => {
    for (const [, make] of kinds) {
      const base = make();
      expect(customizeTgz(base, VESSELINFO)).toEqual(customizeTgz(base, VESSELINFO));
    }
  });

  it('replaces a vesselinfo added before, leaving exactly one', async () => {
    for (const [, make] of kinds) {
      const once = customizeTgz(make(), 'Percent 10\nOwner 3 5');
      const twice = customizeTgz(once, VESSELINFO);
      expect(tarList(twice).filter((n) => n === VESSELINFO_PATH)).toHaveLength(1);
      expect(new TextDecoder().decode(await readTgzFile(twice, VESSELINFO_PATH))).toBe(VESSELINFO);
      // The first output is append-ready, so the second copies its bytes in front of the old
      // vesselinfo member (stored blocks around a 1 KiB tar entry: with the end member under
      // 1400 bytes) and drops that member.
      const kept = once.length - 1400;
      expect(twice.subarray(0, kept)).toEqual(once.subarray(0, kept));
    }
  });

  it('replaces a vesselinfo in the middle of a Python base (generic path)', async () => {
    const entries = tree();
    entries.splice(3, 0, {
      path: 'seattle/seattle_repy/vesselinfo',
      data: enc.encode('old'),
      mode: 0o600,
      mtime: 1,
    });
    const base = pythonBase(entries);
    expect(tarList(base)).toContain(VESSELINFO_PATH);
    const out = customizeTgz(base, VESSELINFO);
    const names = tarList(out);
    expect(names.filter((n) => n === VESSELINFO_PATH)).toHaveLength(1);
    expect(names.at(-1)).toBe(VESSELINFO_PATH);
    expect(extract(out).get(VESSELINFO_PATH)).toEqual({ mode: 0o644, data: VESSELINFO });
    // A prepared copy of that base records the vesselinfo as inside and still customises right.
    const ready = makeAppendReady(base);
    expect(
      tarList(customizeTgz(ready, VESSELINFO)).filter((n) => n === VESSELINFO_PATH),
    ).toHaveLength(1);
  });

  it('streams to the same bytes as the whole-buffer form, in small chunks and beyond the hold-back', async () => {
    const big = tree();
    let x = 7;
    big.push({
      path: 'seattle/seattle_repy/big.bin',
      data: new Uint8Array(1_500_000).map(() => ((x = (x * 69069 + 1) >>> 0), x >>> 24)),
      mode: 0o644,
      mtime: 5,
    });
    for (const base of [writeAppendReadyTgz(big), pythonBase(tree())]) {
      const whole = customizeTgz(base, VESSELINFO);
      for (const size of [4096, 65536]) {
        const streamed = await collect(customizeTgzStream(chunked(base, size), VESSELINFO));
        // Compared as bytes: toEqual walks a 1.8 MB array element by element for seconds.
        expect(Buffer.from(streamed).equals(whole)).toBe(true);
      }
    }
  });
});

describe('bad bases', () => {
  const ready = writeAppendReadyTgz(tree());
  const python = pythonBase(tree());

  it('refuses data that is not gzip, or gzip that is not tar', () => {
    expect(
      expectBaseError(() => customizeTgz(enc.encode('PK\u0003\u0004 not a tgz at all'), VESSELINFO))
        .code,
    ).toBe('base.gzip.not-gzip');
    const notTar = execFileSync('gzip', ['-c'], {
      input: 'hello, this is text and not a tar archive\n'.repeat(40),
    });
    expect(expectBaseError(() => customizeTgz(notTar, VESSELINFO)).code).toBe('base.tar.not-tar');
    expectBaseError(() => customizeTgz(new Uint8Array(0), VESSELINFO));
  });

  it('refuses truncated bases', () => {
    for (const base of [ready, python]) {
      for (const keep of [
        5,
        30,
        Math.floor(base.length / 2),
        base.length - 100,
        base.length - 9,
        base.length - 1,
      ]) {
        expectBaseError(() => customizeTgz(base.subarray(0, keep), VESSELINFO));
      }
    }
  });

  it('refuses flipped bytes in the compressed data and the trailers', () => {
    for (const base of [ready, python]) {
      for (const at of [Math.floor(base.length / 3), base.length - 6, base.length - 2]) {
        const bad = base.slice();
        bad[at]! ^= 0x10;
        expectBaseError(() => customizeTgz(bad, VESSELINFO));
      }
    }
  });

  it('never gives an output tar rejects when the end marker is damaged', () => {
    const names = [...tarList(ready), VESSELINFO_PATH];
    for (let back = 1; back <= 120; back += 7) {
      const bad = ready.slice();
      bad[bad.length - back]! ^= 0x10;
      let out: Uint8Array;
      try {
        out = customizeTgz(bad, VESSELINFO);
      } catch (error) {
        expect((error as CibError).code).toMatch(/^base\./);
        continue;
      }
      // A flip in header text (not covered by any CRC) is harmless: the output must be whole.
      gzipTest(out);
      expect(tarList(out)).toEqual(names);
    }
  });

  it('errors the stream instead of producing output for a damaged base', async () => {
    const bad = python.slice();
    bad[Math.floor(bad.length / 2)]! ^= 1;
    await expect(
      collect(customizeTgzStream(chunked(bad, 4096), VESSELINFO)),
    ).rejects.toBeInstanceOf(CibError);
    const cut = ready.subarray(0, ready.length - 30);
    await expect(
      collect(customizeTgzStream(chunked(cut, 4096), VESSELINFO)),
    ).rejects.toBeInstanceOf(CibError);
  });
});
