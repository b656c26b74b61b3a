// The strict archive profile (docs/formats.md, "Strict archive profile"): what real producers
// write is accepted, and each rule refuses what it names. The differential suite
// (tests/differential) checks the profile against the extractors themselves.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { customizeInstaller, inspectInstaller } from '../../src/core/archive/installer.ts';
import { writeGzipMember } from '../../src/core/archive/gzip.ts';
import {
  foldedKey,
  MAX_ENTRIES,
  ProfileNames,
  profilePath,
} from '../../src/core/archive/profile.ts';
import { endOfArchiveLength, writeTarEntry } from '../../src/core/archive/tar.ts';
import { makeAppendReady } from '../../src/core/archive/tgz.ts';
import { writeEntriesMember } from '../../src/core/archive/tgz-layout.ts';
import { zlibMemberInflater } from '../../src/host/inflate.ts';
import { walkEntries, type InstallerSource } from '../../src/core/archive/walk.ts';
import { CibError } from '../../src/core/problems.ts';
import { BASES, tempDir } from '../support/tools.ts';

const LARGE = { maxEntryBytes: 1 << 26, maxTotalBytes: 1 << 26 };

/** The profile's verdict on an archive: 'accepted', or the first problem's code. */
async function verdict(bytes: Uint8Array | InstallerSource): Promise<string> {
  try {
    await walkEntries(bytes, { wantsData: () => true, onEntry: () => {} }, LARGE);
    return 'accepted';
  } catch (error) {
    if (error instanceof CibError) return error.code;
    throw error;
  }
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof CibError) return error.code;
    throw error;
  }
  return 'accepted';
}

describe('names', () => {
  it.each([
    ['seattle/seattle_repy/nmmain.py', 'tar', false, 'seattle/seattle_repy/nmmain.py'],
    ['./seattle/a', 'tar', false, 'seattle/a'],
    ['seattle/', 'tar', true, 'seattle'],
    ['seattle', 'tar', true, 'seattle'],
    ['./', 'tar', true, ''],
    ['seattle/', 'zip', true, 'seattle'],
    ['seattle/ünï.py', 'tar', false, 'seattle/ünï.py'],
    ['seattle/x y.txt', 'zip', false, 'seattle/x y.txt'],
  ] as const)('%j (%s, folder: %s) extracts to %j', (name, style, directory, path) => {
    expect(profilePath(name, style, directory)).toBe(path);
  });

  it.each([
    ['/etc/passwd', 'an absolute path'],
    ['seattle/../x', '".." path component'],
    ['seattle/./x', '"." path component'],
    ['seattle//x', 'empty path component'],
    ['./seattle/a', '"." path component'], // zip: no leading ./ at all
    ['seattle\\x', 'backslash'],
    ['seattle/x\u0000.pyc', 'U+0000'],
    ['seattle/x\u001b[31m', 'U+001B'],
    ['seattle/a:b', 'U+003A'],
    ['seattle/nmmain\u200c.py', 'U+200C'],
    ['seattle/nmmain.py.', 'ending in a dot'],
    ['seattle/nmmain.py ', 'ending in a dot or a space'],
    ['seattle/NUL.txt', 'Windows device'],
    ['seattle/SOFTWA~1.PY', 'short name'],
    ['seattle/A\u030a.txt', 'normalization form C'],
    [`seattle/${'x'.repeat(233)}`, 'longer than 240'],
    ['', 'empty name'],
  ])('refuses %j: %s', (name, words) => {
    const style = name.startsWith('./') ? 'zip' : 'tar';
    let message = '';
    try {
      profilePath(name, style, false);
    } catch (error) {
      message = (error as CibError).message;
      expect((error as CibError).code).toBe('base.profile.name');
    }
    expect(message).toContain(words);
  });

  it('folds case and normalisation the way macOS and Windows do, and a little more', () => {
    expect(foldedKey('Seattle/NMMAIN.py')).toBe('seattle/nmmain.py');
    expect(foldedKey('\u00c5')).toBe(foldedKey('A\u030a'));
    expect(foldedKey('\u212a')).toBe(foldedKey('k')); // the Kelvin sign
    expect(foldedKey('straße')).toBe(foldedKey('STRASSE'));
  });

  it('keeps paths unique across files and folders, implied folders included', () => {
    const add = (names: [string, 'file' | 'directory'][]) =>
      refusal(() => {
        const seen = new ProfileNames('tar');
        for (const [name, kind] of names) seen.add(name, kind);
      });
    expect(
      add([
        ['seattle/a', 'file'],
        ['seattle/', 'directory'],
        ['seattle', 'directory'],
      ]),
    ).toBe('base.profile.duplicate');
    expect(
      add([
        ['seattle/a', 'file'],
        ['seattle/', 'directory'],
      ]),
    ).toBe('accepted');
    expect(
      add([
        ['seattle/a', 'file'],
        ['Seattle/b', 'file'],
      ]),
    ).toBe('base.profile.case');
    expect(
      add([
        ['seattle/a', 'file'],
        ['seattle/a/b', 'file'],
      ]),
    ).toBe('base.profile.file-and-folder');
    expect(
      add([
        ['seattle/a/b', 'file'],
        ['seattle/a', 'file'],
      ]),
    ).toBe('base.profile.file-and-folder');
    expect(
      add([
        ['seattle/a', 'file'],
        ['./seattle/a', 'file'],
      ]),
    ).toBe('base.profile.duplicate');
    expect(
      add([
        ['seattle/\u00c5', 'file'],
        ['seattle/\u00e5', 'file'],
      ]),
    ).toBe('base.profile.case');
    expect(
      add([
        ['./', 'directory'],
        ['./', 'directory'],
        ['./a', 'file'],
      ]),
    ).toBe('accepted');
  });

  it(`refuses more than ${MAX_ENTRIES} entries`, () => {
    const seen = new ProfileNames('zip');
    expect(
      refusal(() => {
        for (let i = 0; i <= MAX_ENTRIES; i++) seen.add(`f${i}`, 'file');
      }),
    ).toBe('base.profile.entries');
  });
});

/** A tgz of the given tar bytes, end blocks added unless `end` is false. */
function tgz(entries: Uint8Array[], end: Uint8Array | false = new Uint8Array(0)): Uint8Array {
  const length = entries.reduce((n, e) => n + e.length, 0);
  const parts = [...entries];
  if (end !== false) parts.push(new Uint8Array(endOfArchiveLength(length)), end);
  const tar = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    tar.set(p, at);
    at += p.length;
  }
  return writeGzipMember(tar, 6);
}

const file = (name: string, text = 'hi\n', mode = 0o644) =>
  writeTarEntry(
    { name, mode, size: 0, mtime: 1700000000, type: 'file' },
    new TextEncoder().encode(text),
  );
const folder = (name: string) =>
  writeTarEntry({ name, mode: 0o755, size: 0, mtime: 1700000000, type: 'directory' });

/** Rewrites header bytes at `offset` of the first header and fixes its checksum. */
function patched(entry: Uint8Array, offset: number, bytes: number[]): Uint8Array {
  const out = entry.slice();
  out.set(bytes, offset);
  out.fill(0x20, 148, 156);
  const sum = out.subarray(0, 512).reduce((a, b) => a + b, 0);
  out.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return out;
}

function paxEntry(records: string, typeflag = 'x'): Uint8Array {
  const body = new TextEncoder().encode(records);
  const header = patched(
    writeTarEntry({ name: 'PaxHeader', mode: 0o644, size: 0, mtime: 0, type: 'file' }, body),
    156,
    [typeflag.charCodeAt(0)],
  );
  return header;
}

/** One pax record, its length counting bytes as the standard says. */
function record(key: string, value: string): string {
  const bytes = new TextEncoder().encode(` ${key}=${value}\n`).length;
  let length = bytes + 1;
  while (String(length).length + bytes !== length) length = String(length).length + bytes;
  return `${length} ${key}=${value}\n`;
}

describe('tar', () => {
  it('accepts the plain case, extra zero blocks after the end, and a root ./ folder', async () => {
    expect(await verdict(tgz([folder('seattle/'), file('seattle/a')]))).toBe('accepted');
    expect(await verdict(tgz([file('seattle/a')], new Uint8Array(20480)))).toBe('accepted');
    expect(await verdict(tgz([folder('./'), file('./seattle/a')]))).toBe('accepted');
  });

  it.each<[string, string, () => Uint8Array]>([
    ['a symbolic link', 'base.profile.type', () => patched(file('seattle/lib'), 156, [0x32])],
    ['a hard link', 'base.profile.type', () => patched(file('seattle/lib'), 156, [0x31])],
    ['a FIFO', 'base.profile.type', () => patched(file('seattle/p'), 156, [0x36])],
    ['an old-style file', 'base.profile.type', () => patched(file('seattle/o'), 156, [0])],
    ['a GNU sparse file', 'base.profile.sparse', () => patched(file('seattle/s'), 156, [0x53])],
    [
      'a V7 header',
      'base.profile.tar-header',
      () => patched(file('seattle/v'), 257, [0, 0, 0, 0, 0, 0, 0, 0]),
    ],
    [
      'garbage after a NUL in the name',
      'base.profile.tar-header',
      () => patched(file('seattle/n'), 90, [0x41]),
    ],
    [
      'a GNU header',
      'accepted',
      () =>
        patched(
          file('seattle/g'),
          257,
          [...'ustar  \0'].map((c) => c.charCodeAt(0)),
        ),
    ],
    [
      'a GNU header with bytes where POSIX puts a prefix',
      'base.profile.tar-header',
      () =>
        patched(
          patched(
            file('g'),
            257,
            [...'ustar  \0'].map((c) => c.charCodeAt(0)),
          ),
          345,
          [0x78],
        ),
    ],
    ['a setuid file', 'base.profile.mode', () => file('seattle/su', 'x', 0o4755)],
    ['a file its owner cannot read', 'base.profile.mode', () => file('seattle/u', 'x', 0o044)],
    [
      'a link target on a file',
      'base.profile.tar-header',
      () => patched(file('seattle/t'), 157, [0x78]),
    ],
    [
      'a gid that is a word',
      'base.profile.tar-header',
      () =>
        patched(
          file('seattle/g'),
          116,
          [...'nobody\0\0'].map((c) => c.charCodeAt(0)),
        ),
    ],
    [
      'an mtime with a letter',
      'base.profile.tar-header',
      () => patched(file('seattle/m'), 136, [0x31, 0x42]),
    ],
    [
      'a folder with data',
      'base.profile.size',
      () =>
        patched(
          folder('seattle/d/'),
          124,
          [...'00000001000\0'].map((c) => c.charCodeAt(0)),
        ),
    ],
  ])('%s: %s', async (_what, code, make) => {
    expect(await verdict(tgz([make()]))).toBe(code);
  });

  it('refuses the end of archive missing, a lone zero block, data after the end', async () => {
    expect(await verdict(tgz([file('a')], false))).toBe('base.profile.end');
    expect(await verdict(tgz([file('a'), new Uint8Array(512), file('b')]))).toBe(
      'base.profile.end',
    );
    expect(await verdict(tgz([file('a')], file('hidden')))).toBe('base.profile.end');
  });

  it('reads pax records by byte length, allowing the keys real writers use, each once', async () => {
    const allowed = [
      record('path', 'seattle/ünï.py'),
      record('mtime', '1700000000.123456789'),
      record('atime', '1'),
      record('ctime', '2'),
      record('uname', 'démo'),
      record('gid', '20'),
      record('size', '3'),
    ].join('');
    expect(await verdict(tgz([paxEntry(allowed), file('seattle/x')]))).toBe('accepted');
    const refused: [string, string][] = [
      [record('linkpath', 'x'), 'base.profile.pax'],
      [record('hdrcharset', 'BINARY'), 'base.profile.pax'],
      [record('GNU.sparse.name', 'seattle/a'), 'base.profile.sparse'],
      [record('comment', 'hi'), 'base.profile.pax'],
      [record('mtime', '1') + record('mtime', '2'), 'base.profile.pax'],
      [record('uid', '4294967296'), 'base.profile.pax'],
      [record('mtime', '-1'), 'base.profile.pax'],
      [record('size', '0'), 'base.profile.size'],
      ['11 path=\u00e9\u00e9\n', 'base.profile.pax'], // counted in characters, not bytes
      [record('path', 'a') + '\n', 'base.profile.pax'],
      [record('path', 'seattle/a\u0000.pyc'), 'base.profile.name'],
    ];
    for (const [records, code] of refused) {
      expect(await verdict(tgz([paxEntry(records), file('seattle/x')])), records).toBe(code);
    }
    // A pax global header, and two extended headers before one entry.
    expect(await verdict(tgz([paxEntry(record('path', 'a'), 'g'), file('seattle/x')]))).toBe(
      'base.profile.global-header',
    );
    expect(
      await verdict(
        tgz([paxEntry(record('mtime', '1')), paxEntry(record('mtime', '2')), file('x')]),
      ),
    ).toBe('base.profile.meta');
  });

  it('refuses a gzip member with a header CRC, and a tgz that is also a zip', async () => {
    const good = tgz([file('seattle/a')]);
    const crc = good.slice();
    crc[3] = crc[3]! | 0x02;
    expect(await verdict(crc)).toBe('base.profile.gzip');
    // A zip directory and end record hidden in a gzip header's extra field: the tar is clean,
    // but unzip looks for an end record in the last 64 KiB of any file.
    const zip = new Uint8Array(46 + 22);
    zip.set([0x50, 0x4b, 0x01, 0x02], 0);
    zip.set([0x50, 0x4b, 0x05, 0x06], 46);
    new DataView(zip.buffer).setUint16(46 + 10, 1, true);
    new DataView(zip.buffer).setUint32(46 + 12, 46, true);
    const tar = new Uint8Array([...file('seattle/a'), ...new Uint8Array(endOfArchiveLength(1024))]);
    const polyglot = writeGzipMember(tar, 6, { id: [0x5a, 0x50], data: zip });
    expect(await verdict(polyglot)).toBe('base.profile.tgz-zip');
  });
});

describe('a zip end record at the end of a tgz that points at a directory far before it', () => {
  /** Made by Python's zlib and tarfile (tests/python/far_zip_tgz.py). */
  function polyglot(pointAtDirectory: boolean): {
    file: string;
    bytes: Uint8Array;
    directoryAt: number;
  } {
    const dir = tempDir('cib-far-zip-');
    const file = join(dir, 'far.tgz');
    const out = execFileSync(
      'python3',
      ['tests/python/far_zip_tgz.py', file, pointAtDirectory ? 'yes' : 'no'],
      { encoding: 'utf8' },
    );
    return { file, bytes: new Uint8Array(readFileSync(file)), directoryAt: Number(out.trim()) };
  }

  /** The walk over the file streamed in chunks cut at `cuts` (file offsets). */
  async function streamedVerdict(bytes: Uint8Array, cuts: number[]): Promise<string> {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let from = 0;
        for (const cut of [...cuts, bytes.length]) {
          controller.enqueue(bytes.slice(from, cut));
          from = cut;
        }
        controller.close();
      },
    });
    return verdict({
      size: bytes.length,
      head: async (length: number) => bytes.subarray(0, length),
      stream: () => stream,
      bytes: async () => bytes,
    });
  }

  it('is refused, as unzip lists a zip from it, however the bytes arrive', async () => {
    const { file, bytes, directoryAt } = polyglot(true);
    expect(execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })).toContain('seattle/z.bin');
    // unzip warns of the bytes in front (exit 2), and lists the hidden entry all the same.
    const listed = spawnSync('unzip', ['-l', file], { encoding: 'utf8' });
    expect(listed.stdout).toContain('hidden.txt');
    expect(await verdict(bytes)).toBe('base.profile.tgz-zip');
    // The directory's signature cut between chunks, at each of its bytes, and a one-byte chunk.
    for (const split of [1, 2, 3]) {
      expect(await streamedVerdict(bytes, [directoryAt + split])).toBe('base.profile.tgz-zip');
    }
    expect(
      await streamedVerdict(bytes, [directoryAt + 1, directoryAt + 2, directoryAt + 3, 200_000]),
    ).toBe('base.profile.tgz-zip');
  });

  it('is accepted when the record points at no directory, and unzip then finds no zip', async () => {
    const { file, bytes } = polyglot(false);
    const listed = spawnSync('unzip', ['-l', file], { encoding: 'utf8' });
    expect(listed.stdout).not.toContain('hidden.txt');
    expect(await verdict(bytes)).toBe('accepted');
  });
});

describe('the member walk (append-ready entries members inflated whole, as cib and the page do)', () => {
  /** The walk over members that say their length, inflated by zlib several at once. */
  async function memberVerdict(bytes: Uint8Array): Promise<string> {
    try {
      await walkEntries(
        bytes,
        { wantsData: () => true, onEntry: () => {} },
        { ...LARGE, memberBytes: 1 << 22 },
        { inflateMember: zlibMemberInflater },
      );
      return 'accepted';
    } catch (error) {
      if (error instanceof CibError) return error.code;
      throw error;
    }
  }
  const end = (length: number) => writeGzipMember(new Uint8Array(endOfArchiveLength(length)), 9);

  it('applies every rule there too: a link, a second name source, data after the end', async () => {
    const good = [folder('seattle/'), file('seattle/a')];
    const members = (entries: Uint8Array[], tail?: Uint8Array) => {
      const length = entries.reduce((n, e) => n + e.length, 0);
      return new Uint8Array([
        ...entries.flatMap((e) => [...writeEntriesMember(e)]),
        ...writeGzipMember(
          new Uint8Array([...new Uint8Array(endOfArchiveLength(length)), ...(tail ?? [])]),
          9,
        ),
      ]);
    };
    expect(await memberVerdict(members(good))).toBe('accepted');
    expect(await memberVerdict(members([...good, patched(file('seattle/lib'), 156, [0x32])]))).toBe(
      'base.profile.type',
    );
    expect(
      await memberVerdict(
        members(
          [paxEntry(record('path', 'seattle/b')), ...good.slice(1)].concat(file('Seattle/A')),
        ),
      ),
    ).toBe('base.profile.case');
    expect(await memberVerdict(members(good, file('hidden')))).toBe('base.profile.end');
  });

  it("checks the whole file's end for a zip there too", async () => {
    const zip = new Uint8Array(46 + 22);
    zip.set([0x50, 0x4b, 0x01, 0x02], 0);
    zip.set([0x50, 0x4b, 0x05, 0x06], 46);
    new DataView(zip.buffer).setUint16(46 + 10, 1, true);
    new DataView(zip.buffer).setUint32(46 + 12, 46, true);
    // The zip is a file's data in a stored entries member: sized, so inflated by zlib, and the
    // end member after it is read by a reader that never sees the zip.
    const holder = writeTarEntry(
      { name: 'seattle/inner.zip', mode: 0o644, size: 0, mtime: 0, type: 'file' },
      zip,
    );
    const plain = writeTarEntry(
      { name: 'seattle/inner.bin', mode: 0o644, size: 0, mtime: 0, type: 'file' },
      new Uint8Array(zip.length),
    );
    expect(
      await memberVerdict(new Uint8Array([...writeEntriesMember(plain, 0), ...end(plain.length)])),
    ).toBe('accepted');
    expect(
      await memberVerdict(
        new Uint8Array([...writeEntriesMember(holder, 0), ...end(holder.length)]),
      ),
    ).toBe('base.profile.tgz-zip');
  });
});

describe('real producers', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('cib-producers-');
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'seattle/seattle_repy/repyV2'), { recursive: true });
    writeFileSync(join(tree, 'seattle/install.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(tree, 'seattle/seattle_repy/nmmain.py'), 'print(1)\n');
    writeFileSync(join(tree, 'seattle/seattle_repy/repyV2/' + 'long'.repeat(30) + '.py'), 'x\n');
    writeFileSync(join(tree, 'seattle/seattle_repy/empty.txt'), '');
    const out = join(dir, 'out');
    mkdirSync(out);
    const sh = (command: string) => execFileSync('sh', ['-c', command], { cwd: tree });
    sh(`tar -czf ${out}/gnu.tgz seattle`);
    sh(`tar --format=posix -czf ${out}/gnu-posix.tgz seattle`);
    sh(
      `tar --format=ustar -czf ${out}/gnu-ustar.tgz seattle/seattle_repy/nmmain.py seattle/install.sh`,
    );
    sh(`tar -czf ${out}/gnu-dot.tgz .`);
    sh(`bsdtar -czf ${out}/bsdtar.tgz seattle`);
    sh(`bsdtar --format pax -czf ${out}/bsdtar-pax.tgz seattle`);
    sh(`zip -qr ${out}/infozip.zip seattle`);
    sh(`zip -qr - seattle -x '*empty.txt' | cat > ${out}/infozip-pipe.zip`);
    sh(`7z a -bd -tzip ${out}/7z.zip seattle > /dev/null`);
    // Seattle's own packaging: Python's tarfile w:gz (PAX in Python 3.8+: float mtimes and
    // non-ASCII names in pax records) and zipfile; a non-ASCII name, which Python marks UTF-8.
    writeFileSync(join(tree, 'seattle/seattle_repy/café.txt'), 'é\n');
    execFileSync(
      'python3',
      [
        '-c',
        `
import os, sys, tarfile, zipfile
out = sys.argv[1]
for name, fmt in (('pax', tarfile.PAX_FORMAT), ('gnu', tarfile.GNU_FORMAT)):
    with tarfile.open(os.path.join(out, 'python-%s.tgz' % name), 'w:gz', format=fmt) as t:
        t.add('seattle')
with zipfile.ZipFile(os.path.join(out, 'python.zip'), 'w', zipfile.ZIP_DEFLATED) as z:
    for folder, dirs, files in sorted(os.walk('seattle')):
        z.write(folder)
        for f in sorted(files): z.write(os.path.join(folder, f))
`,
        out,
      ],
      { cwd: tree },
    );
  });

  it('GNU tar, bsdtar, Info-ZIP, 7-Zip and Python (Seattle packaging) are all accepted', async () => {
    const files = readdirSync(join(dir, 'out')).sort();
    expect(files).toHaveLength(12);
    for (const name of files) {
      expect(await verdict(readFileSync(join(dir, 'out', name))), name).toBe('accepted');
    }
  });

  it('so are our demo bases, prepare-base output and customised installers', async () => {
    for (const name of [
      'seattle_linux.tgz',
      'seattle_mac.tgz',
      'seattle_win.zip',
      'seattle_android.zip',
    ]) {
      const base = readFileSync(join(BASES, name));
      expect(await verdict(base), name).toBe('accepted');
      const custom = await customizeInstaller({
        base,
        vesselinfo: 'Percent 80\nOwner 3 33\nPercent 20\nOwner 3 33',
      });
      expect(await verdict(custom), `custom ${name}`).toBe('accepted');
      expect((await inspectInstaller(custom)).ambiguous).toBe(false);
    }
    const prepared = makeAppendReady(readFileSync(join(dir, 'out', 'python-pax.tgz')));
    expect(await verdict(prepared)).toBe('accepted');
  });

  it('Info-ZIP with a non-ASCII name is refused: it does not mark it UTF-8, and Python reads it as CP437', async () => {
    execFileSync('zip', ['-qr', join(dir, 'infozip-cafe.zip'), 'seattle'], {
      cwd: join(dir, 'tree'),
    });
    const bytes = readFileSync(join(dir, 'infozip-cafe.zip'));
    expect(await verdict(bytes)).toBe('base.profile.name');
    const python = execFileSync(
      'python3',
      [
        '-c',
        'import sys, zipfile; print([n for n in zipfile.ZipFile(sys.argv[1]).namelist() if "caf" in n][0])',
        join(dir, 'infozip-cafe.zip'),
      ],
      { encoding: 'utf8' },
    );
    expect(python.trim()).not.toBe('seattle/seattle_repy/café.txt');
  });
});
