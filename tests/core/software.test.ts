/**
 * The software check against real bases changed with real tools, and against the independent
 * Python verifier on every case.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkInstallerSoftware } from '../../src/core/archive/base-check.ts';
import { fingerprint, parsePublicKey } from '../../src/core/keys.ts';
import { SEATTLE_UPDATE_KEY } from '../../src/core/seattle-keys.ts';
import {
  knownUpdateKeys,
  parseUpdateKeys,
  softwareBuildable,
  softwareBuildProblems,
  softwareVerdictLine,
} from '../../src/core/software.ts';
import {
  DEMO_UPDATE_KEY,
  EXPECTED,
  makeSoftwareCases,
  pythonVerdict,
  type CaseFiles,
  type SoftwareCase,
} from '../support/software-cases.ts';

const BASE_FILES = ['seattle_linux.tgz', 'seattle_win.zip'];
const CASES = Object.keys(EXPECTED) as SoftwareCase[];
const KNOWN = knownUpdateKeys([{ key: DEMO_UPDATE_KEY, label: 'the demo update key' }]);

let cases: CaseFiles;
beforeAll(() => {
  cases = makeSoftwareCases(BASE_FILES);
}, 120_000);

describe('the Seattle update key', () => {
  it('is a well-formed public key of 4095 bits with a 308-digit exponent', () => {
    const { key, problems } = parsePublicKey(SEATTLE_UPDATE_KEY);
    expect(problems).toEqual([]);
    expect(key!.n.toString(2).length).toBe(4095);
    expect(key!.e.toString().length).toBe(308);
  });
});

describe.each(BASE_FILES)('software check of %s', (base) => {
  it.each(CASES)('%s: the verdict is the expected one, and Python agrees', async (name) => {
    const file = cases.file(name, base);
    const report = (await checkInstallerSoftware(readFileSync(file), { knownKeys: KNOWN }))!;
    expect(report.verdict).toBe(EXPECTED[name]);
    const python = pythonVerdict(file);
    expect(python.verdict).toBe(report.verdict);
    if (report.verdict !== 'signature-fails' && report.verdict !== 'not-signed') {
      expect(python.modified).toEqual(report.modified);
      expect(python.missing).toEqual(report.missing);
      expect(python.unlisted).toEqual(report.unlisted);
      expect(python.fingerprint).toBe(report.key?.fingerprint);
    }
  });

  it('a made base is intact: every listed file matches, install script reported with SHA-256', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('made', base)), {
      knownKeys: KNOWN,
      now: 1_735_732_800 + 60,
    }))!;
    expect(report.key).toEqual({
      fingerprint: fingerprint(DEMO_UPDATE_KEY),
      known: true,
      label: 'the demo update key',
    });
    expect(report.intact).toBe(report.listed);
    expect(report.listed).toBeGreaterThan(2);
    expect(report.expired).toBe(false);
    expect(report.otherFiles.map((f) => f.path)).toEqual([
      base.endsWith('.tgz') ? 'seattle/install.sh' : 'seattle/install.bat',
    ]);
    expect(report.otherFiles[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(softwareVerdictLine(report)).toMatch(
      /^Seattle software signed by the demo update key \([0-9a-f:]+\), \d+ files intact, signed on 2025-01-01, expires 2025-01-31\.$/,
    );
    expect(softwareBuildProblems(report)).toEqual([]);
  });

  it('without the demo key listed, the same base is signed by an unknown key and builds with a warning', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('made', base))))!;
    expect(report.verdict).toBe('unknown-key');
    expect(softwareBuildable(report)).toBe(true);
    const problems = softwareBuildProblems(report);
    expect(problems.map((p) => [p.code, p.severity])).toEqual([
      ['software.key.unknown', 'warning'],
    ]);
  });

  it('one changed byte of nmmain.py is named, and the build is refused', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('modified', base)), {
      knownKeys: KNOWN,
    }))!;
    expect(report.modified).toEqual(['nmmain.py']);
    expect(report.intact).toBe(report.listed - 1);
    expect(softwareVerdictLine(report)).toMatch(/^Modified: 1 file differs from the signed list/);
    const [refusal] = softwareBuildProblems(report, 'seattle_linux.tgz');
    expect(refusal).toMatchObject({ code: 'software.modified', severity: 'error' });
    expect(refusal!.message).toContain('seattle/seattle_repy/nmmain.py');
  });

  it('an added program file makes the base modified, naming it', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('unlisted', base)), {
      knownKeys: KNOWN,
    }))!;
    expect(report.unlisted).toEqual(['random.py']);
    expect(softwareVerdictLine(report)).toContain('1 file is not in it');
  });

  it('a changed signature digit fails, and a removed metainfo is not signed', async () => {
    const bad = (await checkInstallerSoftware(readFileSync(cases.file('signature', base))))!;
    expect(bad.problems.map((p) => p.code)).toContain('software.signature.fails');
    expect(softwareVerdictLine(bad)).toMatch(/^Signature fails/);
    const none = (await checkInstallerSoftware(readFileSync(cases.file('not-signed', base))))!;
    expect(softwareVerdictLine(none)).toMatch(/^Not signed/);
    expect(softwareBuildable(none)).toBe(false);
  });

  it('another key is unknown until it is listed', async () => {
    const bytes = readFileSync(cases.file('other-key', base));
    const otherKey = readFileSync(cases.otherKey, 'utf8').trim();
    expect((await checkInstallerSoftware(bytes, { knownKeys: KNOWN }))!.verdict).toBe(
      'unknown-key',
    );
    const listed = knownUpdateKeys([{ key: otherKey, label: 'our key' }]);
    expect((await checkInstallerSoftware(bytes, { knownKeys: listed }))!.verdict).toBe('intact');
    expect(pythonVerdict(cases.file('other-key', base), [cases.otherKey]).verdict).toBe('intact');
  });
});

describe('parseUpdateKeys', () => {
  it('reads one key per line with a label after #, and names the line of a bad one', () => {
    const { keys, problems } = parseUpdateKeys(
      `# our keys\n${DEMO_UPDATE_KEY} # demo\n\n12 x\n`,
      'UPDATE_KEYS',
    );
    expect(keys).toEqual([{ key: DEMO_UPDATE_KEY, label: 'demo' }]);
    expect(problems.map((p) => p.path)).toEqual(['UPDATE_KEYS: line 4']);
  });
});
