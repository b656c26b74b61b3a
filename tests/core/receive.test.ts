import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  customizeInstaller,
  customizeInstallerParts,
  type Platform,
} from '../../src/core/archive/installer.ts';
import { BaseReceiver } from '../../src/core/archive/receive.ts';
import { CibError } from '../../src/core/problems.ts';
import { BASES, demoManifest } from '../support/tools.ts';

const VESSELINFO = 'Percent 80\nOwner 3 54321\nPercent 20\nOwner 5 12345';

function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.slice(at, at + size));
  return out;
}

describe('BaseReceiver', () => {
  const base = new Uint8Array(readFileSync(join(BASES, 'seattle_linux.tgz')));
  const digest = createHash('sha256').update(base).digest('hex');

  for (const [label, announced] of [
    ['the right size', base.length],
    ['too small a size', 100],
    ['too large a size', base.length * 3],
    ['no size', undefined],
  ] as const) {
    it(`gives back exactly the bytes and Node's SHA-256 with ${label} announced`, async () => {
      const receiver = new BaseReceiver(announced);
      for (const chunk of chunks(base, 4099)) receiver.push(chunk);
      expect(receiver.loaded).toBe(base.length);
      const received = await receiver.finish();
      expect(received.sha256).toBe(digest);
      expect(Buffer.from(received.bytes).equals(Buffer.from(base))).toBe(true);
    });
  }

  it('refuses an empty body', async () => {
    await expect(new BaseReceiver(10).finish()).rejects.toThrow(CibError);
  });
});

describe('customizeInstallerParts', () => {
  for (const entry of demoManifest()) {
    it(`joins to customizeInstaller's bytes for the ${entry.platform} demo base`, async () => {
      const base = new Uint8Array(readFileSync(join(BASES, entry.file)));
      const platform = entry.platform as Platform;
      const whole = await customizeInstaller({
        base,
        vesselinfo: VESSELINFO,
        platform,
        expectSha256: entry.sha256,
      });
      const parts = await customizeInstallerParts({
        base,
        vesselinfo: VESSELINFO,
        platform,
        expectSha256: entry.sha256,
        sha256: entry.sha256,
      });
      expect(Buffer.concat(parts).equals(Buffer.from(whole))).toBe(true);
      if (entry.file.endsWith('.tgz') || entry.file.endsWith('.zip')) {
        // The bulk is the base's own memory, not a copy.
        expect(parts[0]!.buffer).toBe(base.buffer);
        expect(parts[0]!.length).toBeGreaterThan(base.length / 2);
      }
    });
  }

  it('refuses a base whose precomputed SHA-256 is not the expected one', async () => {
    const entry = demoManifest()[0]!;
    const base = new Uint8Array(readFileSync(join(BASES, entry.file)));
    await expect(
      customizeInstallerParts({
        base,
        vesselinfo: VESSELINFO,
        expectSha256: entry.sha256,
        sha256: '0'.repeat(64),
      }),
    ).rejects.toThrow(/SHA-256/);
  });
});
