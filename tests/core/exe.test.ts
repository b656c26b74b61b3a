import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CibError } from '../../src/core/problems.ts';
import {
  customizeExe,
  findAppendedVesselinfo,
  readExeVesselinfo,
} from '../../src/core/archive/exe.ts';
import { thrownBy } from '../support/thrown.ts';

const VESSELINFO = 'Percent 80\nOwner 65537 1234567\nUser 65537 7654321\nPercent 20\nOwner 3 3233';
const OTHER_VESSELINFO = 'Percent 80\nOwner 17 9999\nPercent 20\nOwner 3 3233';

/**
 * The install-time helper as docs/formats.md#base-installers describes it, written independently in
 * Python.
 */
const PYTHON_HELPER = `
import sys
data = open(sys.argv[1], 'rb').read()
marker = b'START:'
i = len(data) - len(marker)
while i >= 0 and data[i:i + len(marker)] != marker:
    i -= 1
if i < 0:
    sys.exit('no START: found')
sys.stdout.buffer.write(data[i + len(marker):])
`;

let work: string;

function helperExtracts(bytes: Uint8Array): string {
  const file = join(work, 'installer.exe');
  writeFileSync(file, bytes);
  return execFileSync('python3', ['-c', PYTHON_HELPER, file], { encoding: 'latin1' });
}

function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * A fake PE executable: MZ header pointing at a PE header with one section whose raw data covers
 * the body; the body holds the helper's own "START:" string followed by binary, as a real
 * installer's code would.
 */
function fakeExe(length = 64 * 1024): Uint8Array {
  const exe = noise(length, 12345);
  const view = new DataView(exe.buffer);
  exe.set([0x4d, 0x5a], 0); // "MZ"
  view.setUint32(0x3c, 0x80, true);
  exe.set([0x50, 0x45, 0, 0], 0x80); // "PE\0\0"
  view.setUint16(0x80 + 4 + 2, 1, true); // one section
  view.setUint16(0x80 + 4 + 16, 0, true); // no optional header
  const section = 0x80 + 4 + 20;
  view.setUint32(section + 16, length - 0x200, true); // SizeOfRawData
  view.setUint32(section + 20, 0x200, true); // PointerToRawData
  exe.set(new TextEncoder().encode('START:'), 0x1000);
  exe[0x1006] = 0; // binary right after it, as in code
  return exe;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'cib-exe-'));
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('customizeExe', () => {
  it('appends START: and the vesselinfo, which the backward-scanning helper extracts exactly', () => {
    const base = fakeExe();
    const out = customizeExe(base, VESSELINFO);
    expect(out.subarray(0, base.length)).toEqual(base);
    expect(new TextDecoder().decode(out.subarray(base.length))).toBe(`START:${VESSELINFO}`);
    expect(helperExtracts(out)).toBe(VESSELINFO);
    expect(readExeVesselinfo(out)).toBe(VESSELINFO);
  });

  it('does not take the program’s own START: string for an appended vesselinfo', () => {
    const base = fakeExe();
    expect(findAppendedVesselinfo(base)).toBeUndefined();
    expect(helperExtracts(base)).toHaveLength(base.length - 0x1006);
    expect(readExeVesselinfo(base)?.startsWith('\u0000')).toBe(true);
  });

  it('replaces a vesselinfo it appended before, so the result equals customising the base', () => {
    const base = fakeExe();
    const once = customizeExe(base, VESSELINFO);
    const twice = customizeExe(once, OTHER_VESSELINFO);
    expect(twice).toEqual(customizeExe(base, OTHER_VESSELINFO));
    expect(helperExtracts(twice)).toBe(OTHER_VESSELINFO);
    expect(findAppendedVesselinfo(twice)?.markerAt).toBe(base.length);
  });

  it('keeps a trailing newline the vesselinfo may carry', () => {
    const out = customizeExe(fakeExe(), `${VESSELINFO}\n`);
    expect(helperExtracts(out)).toBe(`${VESSELINFO}\n`);
    expect(customizeExe(out, VESSELINFO)).toEqual(customizeExe(fakeExe(), VESSELINFO));
  });

  it('refuses a vesselinfo containing START:, which the helper would cut', () => {
    expect(() => customizeExe(fakeExe(), `${VESSELINFO}\nSTART:`)).toThrow(CibError);
  });

  it('refuses a file that is not an executable', () => {
    const error = thrownBy(() =>
      customizeExe(new TextEncoder().encode('PK\u0003\u0004 a zip, not an exe'), VESSELINFO),
    );
    expect((error as CibError).code).toBe('base.exe.not-executable');
  });

  it('refuses an executable cut short before the end of its sections', () => {
    const base = fakeExe();
    const error = thrownBy(() => customizeExe(base.subarray(0, base.length - 100), VESSELINFO));
    expect((error as CibError).code).toBe('base.exe.truncated');
  });
});

describe('the strict profile of the GUI executable', () => {
  it('refuses a DOS stub with no PE header', () => {
    const stub = new Uint8Array(256);
    stub.set([0x4d, 0x5a]);
    expect(() => customizeExe(stub, VESSELINFO)).toThrow(
      expect.objectContaining({ code: 'base.profile.exe' }),
    );
  });

  it('refuses an executable that is also a zip, which unzip would extract', () => {
    const zipFile = join(work, 'inner.zip');
    execFileSync('python3', [
      '-c',
      'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("seattle/a", "x")',
      zipFile,
    ]);
    const exe = fakeExe();
    const both = new Uint8Array([...exe, ...readFileSync(zipFile)]);
    expect(() => customizeExe(both, VESSELINFO)).toThrow(
      expect.objectContaining({ code: 'base.profile.exe-zip' }),
    );
    // Its START: block alone is fine: Seattle's helper reads only what follows the last one.
    expect(helperExtracts(customizeExe(exe, VESSELINFO))).toBe(VESSELINFO);
  });
});
