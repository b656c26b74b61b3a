import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CibError } from '../../src/core/problems.ts';
import {
  VESSELINFO_ENTRY,
  ZipTail,
  customizeZip,
  holdsZipArchive,
  listZipEntries,
  readZipFile,
} from '../../src/core/archive/zip.ts';
import { thrownBy } from '../support/thrown.ts';

const VESSELINFO = 'Percent 80\nOwner 65537 1234567\nUser 65537 7654321\nPercent 20\nOwner 3 3233';
const OTHER_VESSELINFO = 'Percent 80\nOwner 17 9999\nPercent 20\nOwner 3 3233';

let work: string;

function run(command: string, args: string[], cwd = work): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

function python(script: string, ...args: string[]): string {
  return run('python3', ['-c', script, ...args]);
}

/** Deterministic bytes for the incompressible file. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * The source tree every base is made from: text, an executable install.sh, binary. (Non-ASCII
 * names are in tests/core/profile.test.ts: Info-ZIP does not mark them UTF-8, so the strict
 * profile refuses its bases that have them.)
 */
function writeTree(root: string): void {
  mkdirSync(join(root, 'seattle/seattle_repy'), { recursive: true });
  writeFileSync(join(root, 'seattle/install.sh'), '#!/bin/sh\necho installing\n');
  chmodSync(join(root, 'seattle/install.sh'), 0o755);
  writeFileSync(join(root, 'seattle/install.bat'), 'echo installing\r\n');
  writeFileSync(
    join(root, 'seattle/seattle_repy/nmmain.py'),
    'def main():\n    pass\n'.repeat(400),
  );
  writeFileSync(join(root, 'seattle/seattle_repy/blob.bin'), noise(20000, 7));
  writeFileSync(join(root, 'seattle/seattle_repy/notes.txt'), 'private notes\n');
  chmodSync(join(root, 'seattle/seattle_repy/notes.txt'), 0o600);
}

const PYTHON_ZIP = `
import os, sys, zipfile
src, out, method, comment = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
compression = zipfile.ZIP_DEFLATED if method == 'deflate' else zipfile.ZIP_STORED
with zipfile.ZipFile(out, 'w', compression) as z:
    z.comment = comment.encode()
    for folder, dirs, files in sorted(os.walk(src)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            arcname = os.path.relpath(path, src)
            if method == 'zip64':
                info = zipfile.ZipInfo.from_file(path, arcname)
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, 'rb') as f, z.open(info, 'w', force_zip64=True) as w:
                    w.write(f.read())
            else:
                z.write(path, arcname)
`;

type BaseKind =
  | 'python-deflate'
  | 'python-stored'
  | 'python-zip64-entries'
  | 'infozip'
  | 'infozip-zip64'
  | 'infozip-streamed'
  | 'infozip-sfx';

function makeBase(kind: BaseKind): string {
  const tree = join(work, 'tree');
  const out = join(work, `${kind}.zip`);
  switch (kind) {
    case 'python-deflate':
      python(PYTHON_ZIP, tree, out, 'deflate', 'a base comment');
      break;
    case 'python-stored':
      python(PYTHON_ZIP, tree, out, 'stored', '');
      break;
    case 'python-zip64-entries':
      python(PYTHON_ZIP, tree, out, 'zip64', 'zip64 local headers');
      break;
    case 'infozip':
      run('zip', ['-qr', out, 'seattle'], tree);
      break;
    case 'infozip-zip64':
      run('zip', ['-qr', '-fz', out, 'seattle'], tree);
      break;
    case 'infozip-streamed': // written to a pipe: data descriptors after every entry
      run('sh', ['-c', `zip -qr - seattle | cat > '${out}'`], tree);
      break;
    case 'infozip-sfx': // a self-extractor stub in front, offsets adjusted with zip -A
      run('zip', ['-qr', join(work, 'plain.zip'), 'seattle'], tree);
      writeFileSync(
        out,
        new Uint8Array([...noise(3000, 3), ...readFileSync(join(work, 'plain.zip'))]),
      );
      run('zip', ['-qA', out]);
      break;
  }
  return out;
}

/** zipinfo's per-entry lines (permissions, versions, size, method, date, name). */
function zipinfoLines(file: string): string[] {
  return run('zipinfo', [file])
    .split('\n')
    .filter((line) => /^[-dl?]/.test(line));
}

function unzipTest(file: string): { status: number | null; output: string } {
  const result = spawnSync('unzip', ['-tq', file], { encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

function extract(file: string, into: string): void {
  mkdirSync(into, { recursive: true });
  run('unzip', ['-q', file, '-d', into]);
}

/** path -> [mode, content] for every file below root. */
function readTree(root: string): Map<string, [number, string]> {
  const files = new Map<string, [number, string]>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else files.set(relative(root, path), [stat.mode & 0o777, readFileSync(path, 'hex')]);
    }
  };
  walk(root);
  return files;
}

/** Where Python's zipfile finds the central directory, its length, and every entry's facts. */
function pythonView(file: string): {
  startDir: number;
  centralLength: number;
  comment: string;
  testzip: string | null;
  entries: { name: string; offset: number; mode: number; date: number[] }[];
} {
  return JSON.parse(
    python(
      `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
def raw(i): return len(i.orig_filename.encode('utf-8' if i.flag_bits & 0x800 else 'cp437'))
print(json.dumps({
  'startDir': z.start_dir,
  'centralLength': sum(46 + raw(i) + len(i.extra) + len(i.comment) for i in z.infolist()),
  'comment': z.comment.decode(),
  'testzip': z.testzip(),
  'entries': [{'name': i.filename, 'offset': i.header_offset, 'mode': i.external_attr >> 16,
               'date': list(i.date_time)} for i in z.infolist()],
}))
`,
      file,
    ),
  );
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cib-zip-'));
  writeTree(join(work, 'tree'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe.each<BaseKind>([
  'python-deflate',
  'python-stored',
  'python-zip64-entries',
  'infozip',
  'infozip-zip64',
  'infozip-streamed',
])('customizeZip on a %s base', (kind) => {
  let basePath: string;
  let base: Uint8Array;
  let outPath: string;
  let out: Uint8Array;

  beforeAll(() => {
    basePath = makeBase(kind);
    base = new Uint8Array(readFileSync(basePath));
    out = customizeZip(base, VESSELINFO);
    outPath = join(work, `${kind}.custom.zip`);
    writeFileSync(outPath, out);
  });

  it('gives a zip that unzip -t accepts without a warning', () => {
    const result = unzipTest(outPath);
    expect(result.output).toContain('No errors detected');
    expect(result.status).toBe(0);
  });

  it('keeps every original entry as zipinfo shows it and adds a 0644 vesselinfo', () => {
    const before = zipinfoLines(basePath);
    const after = zipinfoLines(outPath);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)).toMatch(
      /^-rw-r--r-- .* unx .* stor .* seattle\/seattle_repy\/vesselinfo$/,
    );
    expect(before.some((l) => l.startsWith('-rwxr-xr-x') && l.endsWith('install.sh'))).toBe(true);
  });

  it('extracts to the base tree plus exactly the vesselinfo', () => {
    extract(basePath, join(work, `${kind}-base-x`));
    extract(outPath, join(work, `${kind}-out-x`));
    const expected = readTree(join(work, `${kind}-base-x`));
    expected.set(VESSELINFO_ENTRY, [0o644, Buffer.from(VESSELINFO).toString('hex')]);
    const actual = readTree(join(work, `${kind}-out-x`));
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, value] of expected) expect(actual.get(path), path).toEqual(value);
    expect(actual.get('seattle/install.sh')?.[0]).toBe(0o755);
  });

  it('reads back in Python zipfile with every CRC right and the comment kept', () => {
    const baseView = pythonView(basePath);
    const outView = pythonView(outPath);
    expect(outView.testzip).toBeNull();
    expect(outView.comment).toBe(baseView.comment);
    expect(outView.entries.slice(0, -1)).toEqual(baseView.entries);
    expect(outView.entries.at(-1)?.name).toBe(VESSELINFO_ENTRY);
    expect(outView.entries.at(-1)?.mode).toBe(0o100644);
    const newest = baseView.entries
      .map((e) => e.date)
      .sort()
      .at(-1);
    expect(outView.entries.at(-1)?.date).toEqual(newest);
    expect(
      python(
        'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode(), end="")',
        outPath,
        VESSELINFO_ENTRY,
      ),
    ).toBe(VESSELINFO);
  });

  it('copies every byte before the central directory and every central record unchanged', () => {
    const { startDir, centralLength } = pythonView(basePath);
    const outView = pythonView(outPath);
    expect(
      Buffer.from(out.subarray(0, startDir)).equals(Buffer.from(base.subarray(0, startDir))),
    ).toBe(true);
    const baseCentral = base.subarray(startDir, startDir + centralLength);
    const outCentral = out.subarray(outView.startDir, outView.startDir + centralLength);
    expect(Buffer.from(outCentral).equals(Buffer.from(baseCentral))).toBe(true);
  });

  it('is reproducible and replaces its own vesselinfo, leaving one', () => {
    expect(Buffer.from(customizeZip(base, VESSELINFO)).equals(Buffer.from(out))).toBe(true);
    const again = customizeZip(out, OTHER_VESSELINFO);
    expect(Buffer.from(again).equals(Buffer.from(customizeZip(base, OTHER_VESSELINFO)))).toBe(true);
    const names = listZipEntries(again).map((e) => e.name);
    expect(names.filter((n) => n === VESSELINFO_ENTRY)).toHaveLength(1);
    expect(new TextDecoder().decode(readZipFile(again, VESSELINFO_ENTRY))).toBe(OTHER_VESSELINFO);
  });

  it('reads entries back with fflate, checking their CRC', () => {
    const script = readZipFile(out, 'seattle/seattle_repy/nmmain.py');
    expect(new TextDecoder().decode(script)).toBe('def main():\n    pass\n'.repeat(400));
    expect(readZipFile(out, 'seattle/seattle_repy/blob.bin')).toEqual(noise(20000, 7));
    expect(readZipFile(out, 'no/such/file')).toBeUndefined();
    const install = listZipEntries(out).find((e) => e.name === 'seattle/install.sh');
    expect(install?.unixMode).toBe(0o100755);
  });
});

describe('customizeZip Zip64 end records', () => {
  it('keeps a Zip64 end record the base has (Info-ZIP -fz)', () => {
    const base = new Uint8Array(readFileSync(makeBase('infozip-zip64')));
    expect(Buffer.from(base).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    const out = customizeZip(base, VESSELINFO);
    // 4.3.14/4.3.15 signatures right before the end record.
    const tail = Buffer.from(out.subarray(out.length - 22 - 20 - 56));
    expect(tail.readUInt32LE(0)).toBe(0x06064b50);
    expect(tail.readUInt32LE(56)).toBe(0x07064b50);
  });

  it('refuses a base of more than 10,000 entries, as the strict profile does', () => {
    const basePath = join(work, 'many.zip');
    python(
      `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for i in range(10001): z.writestr('seattle/f%d' % i, b'')
`,
      basePath,
    );
    expect(() => customizeZip(new Uint8Array(readFileSync(basePath)), VESSELINFO)).toThrow(
      expect.objectContaining({ code: 'base.profile.entries' }),
    );
  });
});

describe('customizeZip replacing a vesselinfo in the middle of a base', () => {
  it('cuts the old entry out and rewrites only the offsets of the entries after it', () => {
    const basePath = join(work, 'middle.zip');
    python(
      `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('seattle/a.txt', 'first ' * 100)
    z.writestr(sys.argv[2], 'Percent 100\\nOwner 1 2')
    z.writestr('seattle/b.txt', 'second ' * 100)
`,
      basePath,
      VESSELINFO_ENTRY,
    );
    const base = new Uint8Array(readFileSync(basePath));
    const outPath = join(work, 'middle.custom.zip');
    const out = customizeZip(base, VESSELINFO);
    writeFileSync(outPath, out);
    expect(unzipTest(outPath).status).toBe(0);
    const view = pythonView(outPath);
    expect(view.testzip).toBeNull();
    expect(view.entries.map((e) => e.name)).toEqual([
      'seattle/a.txt',
      'seattle/b.txt',
      VESSELINFO_ENTRY,
    ]);
    // Only one local header of that name remains anywhere in the file.
    expect(Buffer.from(out).toString('latin1').split(VESSELINFO_ENTRY)).toHaveLength(3);
    const baseEntries = listZipEntries(base);
    const outEntries = listZipEntries(out);
    for (const name of ['seattle/a.txt', 'seattle/b.txt']) {
      const b = baseEntries.find((e) => e.name === name)!;
      const o = outEntries.find((e) => e.name === name)!;
      expect(
        Buffer.from(out.subarray(o.localHeaderAt, o.end)).equals(
          Buffer.from(base.subarray(b.localHeaderAt, b.end)),
        ),
      ).toBe(true);
    }
    expect(new TextDecoder().decode(readZipFile(out, 'seattle/b.txt'))).toBe('second '.repeat(100));
  });
});

describe('customizeZip refusing bad bases', () => {
  let good: Uint8Array;
  beforeAll(() => {
    good = new Uint8Array(readFileSync(makeBase('infozip')));
  });

  function codeOf(bytes: Uint8Array): string {
    try {
      customizeZip(bytes, VESSELINFO);
    } catch (error) {
      expect(error).toBeInstanceOf(CibError);
      return (error as CibError).code;
    }
    return 'accepted';
  }

  it('says the end record is missing for a file that is not a zip', () => {
    expect(codeOf(new TextEncoder().encode('just some text, not an archive'))).toBe(
      'base.zip.end-record-missing',
    );
    expect(codeOf(new Uint8Array(0))).toBe('base.zip.end-record-missing');
    const error = thrownBy(() => customizeZip(noise(1000, 1), VESSELINFO));
    expect(error).toBeInstanceOf(CibError);
    expect((error as CibError).message).toContain('truncated or not a zip');
  });

  it('refuses every truncation with a base.zip code', () => {
    for (let length = 0; length < good.length; length += 7) {
      expect(codeOf(good.subarray(0, length)), `cut at ${length}`).toMatch(
        /^base\.(zip|profile)\./,
      );
    }
  });

  it('refuses bytes after the end record and any stub in front, adjusted or not', () => {
    expect(codeOf(new Uint8Array([...good, 1, 2, 3]))).toBe('base.zip.trailing-data');
    expect(codeOf(new Uint8Array([...noise(100, 9), ...good]))).toBe('base.profile.zip-layout');
    // A self-extractor stub with the offsets adjusted by zip -A: readers that walk local headers
    // from the start meet the stub, readers that trust the directory do not.
    expect(codeOf(new Uint8Array(readFileSync(makeBase('infozip-sfx'))))).toBe(
      'base.profile.zip-layout',
    );
  });

  it('refuses a local header that disagrees with its central record', () => {
    const bytes = good.slice();
    const first = listZipEntries(good)[0]!;
    bytes[first.localHeaderAt + 30] = bytes[first.localHeaderAt + 30]! ^ 0x20; // first letter of the local name
    expect(codeOf(bytes)).toBe('base.zip.local-header-mismatch');
  });

  it('refuses a central directory whose count disagrees with its records', () => {
    const bytes = good.slice();
    const end = bytes.length - 22;
    bytes[end + 8] = bytes[end + 8]! + 1;
    bytes[end + 10] = bytes[end + 10]! + 1;
    expect(codeOf(bytes)).toMatch(/^base\.zip\.central-/);
  });

  it('refuses two entries that share the same bytes', () => {
    // Duplicate the last central record (pointing at the same local header) and fix the counts.
    const view = Buffer.from(good);
    const end = view.length - 22;
    const centralSize = view.readUInt32LE(end + 12);
    const centralAt = view.readUInt32LE(end + 16);
    const records: Buffer[] = [];
    for (let at = centralAt; at < centralAt + centralSize;) {
      const length =
        46 + view.readUInt16LE(at + 28) + view.readUInt16LE(at + 30) + view.readUInt16LE(at + 32);
      records.push(view.subarray(at, at + length));
      at += length;
    }
    const extra = records.at(-1)!;
    const tail = Buffer.from(view.subarray(end));
    tail.writeUInt16LE(records.length + 1, 8);
    tail.writeUInt16LE(records.length + 1, 10);
    tail.writeUInt32LE(centralSize + extra.length, 12);
    const bytes = Buffer.concat([view.subarray(0, end), extra, tail]);
    expect(codeOf(new Uint8Array(bytes))).toBe('base.profile.duplicate');
  });

  it('never writes a zip unzip -t rejects, whatever bytes are flipped (seeded)', () => {
    const rng = noise(400, 42);
    const candidate = join(work, 'mutant.zip');
    let accepted = 0;
    for (let i = 0; i < 100; i++) {
      const bytes = good.slice();
      const at = ((rng[i * 2]! << 8) | rng[i * 2 + 1]!) % bytes.length;
      bytes[at] = bytes[at]! ^ (1 << (rng[200 + i]! % 8));
      let out: Uint8Array;
      try {
        out = customizeZip(bytes, VESSELINFO, { verifyData: true });
      } catch (error) {
        expect(error, `flip at ${at}`).toBeInstanceOf(CibError);
        expect((error as CibError).code).toMatch(/^base\.(zip|profile)\./);
        continue;
      }
      accepted++;
      writeFileSync(candidate, out);
      expect(unzipTest(candidate).status, `flip at ${at}`).toBe(0);
    }
    expect(accepted).toBeGreaterThan(0); // flips in timestamps and attributes are harmless
  });
});

describe('the tail a tgz walk keeps to check its end for a zip (ZipTail)', () => {
  /** The window unzip searches for an end record: the record and the longest comment. */
  const WINDOW = 22 + 0xffff;

  /** 300 KB of noise with a zip directory entry and end record whose end lies `fromEnd` bytes before the file's. */
  function fileWithZipEnd(fromEnd: number): Uint8Array {
    let x = fromEnd + 7;
    const bytes = new Uint8Array(300_000).map(() => (x = (x * 1103515245 + 12345) >>> 0) >>> 24);
    const zip = new Uint8Array(46 + 22);
    zip.set([0x50, 0x4b, 0x01, 0x02], 0);
    zip.set([0x50, 0x4b, 0x05, 0x06], 46);
    new DataView(zip.buffer).setUint16(46 + 10, 1, true);
    new DataView(zip.buffer).setUint32(46 + 12, 46, true);
    new DataView(zip.buffer).setUint16(46 + 20, fromEnd, true); // the comment runs to the end
    if (fromEnd <= 0xffff) bytes.set(zip, bytes.length - fromEnd - zip.length);
    return bytes;
  }

  function tailSays(bytes: Uint8Array, sizes: number[]): boolean {
    const tail = new ZipTail();
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const size = sizes[i % sizes.length]!;
      tail.push(bytes.subarray(at, at + size));
      at += size;
    }
    try {
      tail.check();
      return false;
    } catch (error) {
      expect((error as CibError).code).toBe('base.profile.tgz-zip');
      return true;
    }
  }

  it('finds what a reader of the whole file finds, however the bytes are cut', () => {
    const chunkings = [
      [1 << 20],
      [WINDOW],
      [WINDOW - 1],
      [WINDOW + 1],
      [70_001],
      [4096],
      [1, 65_000, 130_000, 17],
    ];
    let found = 0;
    for (const fromEnd of [0, 1, 1000, 65_000, 0xffff - 46, 0xffff, 0x10000]) {
      const bytes = fileWithZipEnd(fromEnd);
      // What it is meant to find: an end record in the last WINDOW bytes, pointing at a
      // directory in the WINDOW bytes before those or after.
      const kept = bytes.subarray(bytes.length - 2 * WINDOW);
      const whole = holdsZipArchive(kept, WINDOW);
      if (whole) found++;
      for (const sizes of chunkings)
        expect(tailSays(bytes, sizes), `${fromEnd} ${sizes}`).toBe(whole);
    }
    expect(found).toBeGreaterThanOrEqual(4); // the records inside the window are seen
  });
});
