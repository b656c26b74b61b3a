/**
 * The demo payload's Python check (demo/source/seattle_repy/demo_install.py) must agree with the
 * builder's own rules: the same vesselinfo is accepted or refused by both, and an accepted one
 * gives the same vessel names, shares, port ranges and key fingerprints.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/core/keys.ts';
import { nodeVessels, parseVesselinfo } from '../../src/core/vesselinfo.ts';
import { errorsOf } from '../../src/core/problems.ts';
import { RESERVED_KEY_FIXTURE } from '../support/tools.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEMO_KEY = readFileSync(join(ROOT, 'demo/update-keys/demo.publickey'), 'utf8').trim();
const RESERVED_KEY = RESERVED_KEY_FIXTURE;

// A copy of the program folder, so writing a vesselinfo never touches the source tree.
const scratch = mkdtempSync(join(tmpdir(), 'cib-demo-install-'));
cpSync(join(ROOT, 'demo/source/seattle_repy'), join(scratch, 'seattle_repy'), { recursive: true });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runDemo(vesselinfo: string | undefined): {
  status: number | null;
  stdout: string;
  stderr: string;
} {
  const file = join(scratch, 'seattle_repy/vesselinfo');
  rmSync(file, { force: true });
  if (vesselinfo !== undefined) writeFileSync(file, vesselinfo);
  const result = spawnSync(
    'python3',
    [join(scratch, 'seattle_repy/demo_install.py'), '--dry-run'],
    {
      encoding: 'utf8',
    },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The lines the demo prints for a vesselinfo the builder's core accepts. */
function expectedLines(vesselinfo: string): string[] {
  const { vessels, problems } = parseVesselinfo(vesselinfo);
  expect(errorsOf(problems)).toEqual([]);
  return nodeVessels(vessels).flatMap((v) => [
    `${v.name} ${v.percent}% ports ${v.ports[0]}-${v.ports[1]} owner ${fingerprint(v.owner)}`,
    ...v.users.map((u) => `  user ${fingerprint(u)}`),
  ]);
}

const valid = [
  `Percent 60\nOwner ${DEMO_KEY}\nUser 3 1000003\nUser ${RESERVED_KEY}\nPercent 20\nOwner 5 77777\nPercent 20\nOwner ${RESERVED_KEY}`,
  `Percent 100\nOwner 007 0999\n`,
  `Percent 10\nOwner 1 2\nPercent 10\nOwner 1 3\nPercent 80\nOwner 2 3\nUser 1 2\nUser 1 2`,
];

const invalid = [
  '',
  '\n',
  'Percent 100\n\nOwner 1 2',
  'Percent 100\nOwner 1 2\n\n',
  'percent 100\nOwner 1 2',
  'Percent 15\nOwner 1 2\nPercent 85\nOwner 1 2',
  'Percent 50\nOwner 1 2',
  'Percent 100',
  'Owner 1 2\nPercent 100\nOwner 1 2',
  'Percent 100\nOwner 1 2\nOwner 1 3',
  'Percent 100\nOwner 2 1',
  'Percent 100\nOwner 0 5',
  'Percent 100\nOwner 1  2',
  'Percent 100\nOwner 1 2 3',
  'Percent 100\nOwner 1 2\r',
  'Percent 100\nOwner -1 2',
  'Percent 100\nUser 1 2',
  'Percent 0\nOwner 1 2\nPercent 100\nOwner 1 2',
  'Percent 110\nOwner 1 2',
];

describe('demo_install.py', () => {
  it('prints the same key fingerprint as src/core/keys.ts for the same key', () => {
    const { stdout, status } = runDemo(`Percent 100\nOwner ${DEMO_KEY}`);
    expect(status).toBe(0);
    expect(stdout).toContain(`owner ${fingerprint(DEMO_KEY)}`);
    expect(fingerprint(DEMO_KEY)).toMatch(/^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/);
  });

  it.each(valid.map((text, i) => [i, text]))(
    'prints the vessels the core computes for valid vesselinfo #%i',
    (_i, text) => {
      const { stdout, status } = runDemo(text);
      expect(status).toBe(0);
      const printed = stdout.split('\n').filter((l) => /^(v[0-9]+ | {2}user )/.test(l));
      expect(printed).toEqual(expectedLines(text));
      expect(stdout).toContain('demo installer: nothing was installed.');
    },
  );

  it('shows v1 at 60% with ports 63100-63159, as docs/formats.md#vesselinfo says', () => {
    const { stdout } = runDemo(valid[0]!);
    expect(stdout).toContain('v1 60% ports 63100-63159');
    expect(stdout).toContain('v2 20% ports 63160-63179');
    expect(stdout).toContain('v3 20% ports 63180-63199');
  });

  it.each(invalid.map((text) => [JSON.stringify(text), text]))(
    'refuses %s exactly when the core refuses it',
    (_name, text) => {
      expect(errorsOf(parseVesselinfo(text).problems)).not.toEqual([]);
      const { status, stderr, stdout } = runDemo(text);
      expect(status).toBe(1);
      expect(stderr).toContain('is invalid');
      expect(stdout).not.toContain('nothing was installed');
    },
  );

  it('fails with a clear message when there is no vesselinfo', () => {
    const { status, stderr } = runDemo(undefined);
    expect(status).toBe(1);
    expect(stderr).toContain('seattle_repy/vesselinfo is missing');
  });

  it('points at the offending line', () => {
    const { stderr } = runDemo('Percent 100\nOwner 1 2\nPercent 15');
    expect(stderr).toContain('line 3: the percentage must be a multiple of 10 from 10 to 100');
  });
});
