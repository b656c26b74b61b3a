import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import JSZip from 'jszip';
import {
  VESSELINFO_ENTRY,
  customizeZip,
  customizeZipParts,
  listZipEntries,
} from '../src/core/archive/zip.ts';
import { timeMedian } from './stats.ts';
import type { BenchSuite } from './suites.ts';
import { syntheticTree } from './synthetic.ts';

const RUNS = 5;
const VESSELINFO =
  'Percent 80\nOwner 65537 1234\nUser 65537 5678\nPercent 20\nOwner 3 55\nUser 3 55';

/**
 * Python's zipfile with deflate, the way operators' zip bases are written
 * (docs/formats.md#base-installers).
 */
function pythonZipBase(dir: string): Uint8Array {
  const out = join(dir, 'base.zip');
  execFileSync('python3', [
    '-c',
    `
import os, sys, zipfile
root = sys.argv[1]
with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED) as z:
    for folder, dirs, files in sorted(os.walk(os.path.join(root, 'seattle'))):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            z.write(path, os.path.relpath(path, root))
`,
    dir,
    out,
  ]);
  return readFileSync(out);
}

/** The old service: copy the base, `zip -r` the vesselinfo into the copy, read it back. */
function oldWay(dir: string, base: Uint8Array): Uint8Array {
  const work = mkdtempSync(join(dir, 'cib-'));
  try {
    writeFileSync(join(work, 'out.zip'), base);
    mkdirSync(join(work, 'add/seattle/seattle_repy'), { recursive: true });
    writeFileSync(join(work, 'add/seattle/seattle_repy/vesselinfo'), VESSELINFO);
    execFileSync('zip', ['-qr', '../out.zip', VESSELINFO_ENTRY], { cwd: join(work, 'add') });
    return readFileSync(join(work, 'out.zip'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** JSZip as the design had it: load, add the file, generate reusing the deflated data. */
async function withJsZip(base: Uint8Array): Promise<Uint8Array> {
  const zip = await JSZip.loadAsync(base);
  zip.file(VESSELINFO_ENTRY, VESSELINFO, { unixPermissions: 0o100644 });
  return zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE', platform: 'UNIX' });
}

/** How many of the base's local records (header + data) JSZip's output holds byte for byte. */
function identicalLocalRecords(base: Uint8Array, out: Uint8Array): number {
  const after = new Map(listZipEntries(out).map((e) => [e.name, e]));
  let same = 0;
  for (const entry of listZipEntries(base)) {
    const other = after.get(entry.name);
    if (!other || other.end - other.localHeaderAt !== entry.end - entry.localHeaderAt) continue;
    const a = Buffer.from(base.subarray(entry.localHeaderAt, entry.end));
    if (a.equals(Buffer.from(out.subarray(other.localHeaderAt, other.end)))) same++;
  }
  return same;
}

export const zipSuite: BenchSuite = {
  name: 'zip',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'bench-zip-'));
    try {
      for (const file of syntheticTree()) {
        const path = join(dir, file.path);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file.data, { mode: file.mode });
      }
      const base = new Uint8Array(pythonZipBase(dir));
      const entries = listZipEntries(base).length;
      const jszipOut = await withJsZip(base);
      const jszipModes = listZipEntries(jszipOut);
      const baseModes = new Map(listZipEntries(base).map((e) => [e.name, e.externalAttributes]));
      return {
        zip_base_bytes: base.length,
        zip_base_entries: entries,
        zip_copy_ms: await timeMedian(RUNS, () => base.slice()),
        zip_ms: await timeMedian(RUNS, () => customizeZip(base, VESSELINFO)),
        zip_parts_ms: await timeMedian(RUNS, () => customizeZipParts(base, VESSELINFO)),
        zip_verified_ms: await timeMedian(RUNS, () =>
          customizeZip(base, VESSELINFO, { verifyData: true }),
        ),
        zip_jszip_ms: await timeMedian(RUNS, () => withJsZip(base)),
        zip_cib_ms: await timeMedian(RUNS, () => oldWay(dir, base)),
        zip_jszip_local_records_identical: `${identicalLocalRecords(base, jszipOut)}/${entries}`,
        zip_jszip_attributes_kept: `${
          jszipModes.filter((e) => baseModes.get(e.name) === e.externalAttributes).length
        }/${entries}`,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
