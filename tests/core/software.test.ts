/**
 * The software check against real bases changed with real tools, and against the independent
 * Python verifier on every case; its rules (Seattle's packaging, the node's update key, the demo
 * key) one by one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkInstallerSoftware } from '../../src/core/archive/base-check.ts';
import { fingerprint, parsePublicKey } from '../../src/core/keys.ts';
import { SEATTLE_UPDATE_KEY } from '../../src/core/seattle-keys.ts';
import {
  applyTrust,
  knownUpdateKeys,
  parseUpdateKeys,
  softwareBuildable,
  softwareBuildProblems,
  softwareNotes,
  softwareVerdictLine,
} from '../../src/core/software.ts';
import {
  isSeattleCode,
  nodeUpdateKey,
  readSoftwareUpdaterKey,
} from '../../src/core/software-rules.ts';
import {
  DEMO_UPDATE_KEY,
  demoBasesHold,
  deploymentTrustsDemoKey,
  isDemoUpdateKey,
  withDemoKey,
} from '../../src/core/update-trust.ts';
import { checkDeploymentSettings } from '../../src/core/deployment-settings.ts';
import {
  DEMO_UPDATE_KEY as DEMO_KEY_FILE_TEXT,
  EXPECTED,
  makeSoftwareCases,
  pythonVerdict,
  type CaseFiles,
  type SoftwareCase,
} from '../support/software-cases.ts';
import { ROOT } from '../support/tools.ts';

const BASE_FILES = ['seattle_linux.tgz', 'seattle_win.zip'];
const CASES = Object.keys(EXPECTED) as SoftwareCase[];
const KNOWN = knownUpdateKeys([{ key: DEMO_KEY_FILE_TEXT, label: 'the demo update key' }]);
const PROGRAM = 'seattle/seattle_repy/';

let cases: CaseFiles;
beforeAll(() => {
  cases = makeSoftwareCases(BASE_FILES);
}, 120_000);

describe('the shipped keys', () => {
  it('the Seattle update key is a well-formed public key of 4095 bits with a 308-digit exponent', () => {
    const { key, problems } = parsePublicKey(SEATTLE_UPDATE_KEY);
    expect(problems).toEqual([]);
    expect(key!.n.toString(2).length).toBe(4095);
    expect(key!.e.toString().length).toBe(308);
  });

  it('the demo update key in core is the one in demo/update-keys/demo.publickey', () => {
    const file = readFileSync(join(ROOT, 'demo/update-keys/demo.publickey'), 'utf8').trim();
    expect(DEMO_UPDATE_KEY).toBe(file);
    expect(isDemoUpdateKey(` ${file.replace(' ', ' 0')}\n`)).toBe(true);
    expect(isDemoUpdateKey(SEATTLE_UPDATE_KEY)).toBe(false);
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
      expect(python.unsigned).toEqual(
        report.unsigned
          .filter((f) => f.path.startsWith(PROGRAM))
          .map((f) => f.path.slice(PROGRAM.length)),
      );
      expect(python.fingerprint).toBe(report.key?.fingerprint);
    }
  });

  it('a made base is intact: every listed file matches, its install script reported with SHA-256', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('made', base)), {
      knownKeys: KNOWN,
      now: 1_735_732_800 + 60,
    }))!;
    expect(report.key).toEqual({
      fingerprint: fingerprint(DEMO_KEY_FILE_TEXT),
      key: DEMO_KEY_FILE_TEXT,
      trusted: true,
      label: 'the demo update key',
    });
    expect(report.intact).toBe(report.listed);
    expect(report.listed).toBeGreaterThan(2);
    expect(report.expired).toBe(false);
    expect(report.unsigned.map((f) => f.path)).toEqual([
      base.endsWith('.tgz') ? 'seattle/install.sh' : 'seattle/install.bat',
    ]);
    expect(report.unsigned[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(softwareVerdictLine(report)).toMatch(
      /^Seattle software signed by the demo update key \([0-9a-f:]+\), \d+ files intact, signed on 2025-01-01, expires 2025-01-31\.$/,
    );
    expect(softwareBuildProblems(report)).toEqual([]);
  });

  it('without the demo key trusted, the same base is refused, naming the key and why', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('made', base))))!;
    expect(report.verdict).toBe('untrusted-key');
    expect(softwareBuildable(report)).toBe(false);
    const [refusal] = softwareBuildProblems(report, base);
    expect(refusal).toMatchObject({ code: 'software.untrusted-key', severity: 'error' });
    expect(refusal!.message).toContain(fingerprint(DEMO_KEY_FILE_TEXT));
    expect(refusal!.message).toContain('whose private key is public');
    // Judged again once a deployment earns the demo key: no second walk.
    const trusted = applyTrust(report, withDemoKey(knownUpdateKeys(), true));
    expect(trusted.verdict).toBe('intact');
    expect(trusted.problems.map((p) => p.code)).not.toContain('software.key.untrusted');
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

  it('an unlisted .py is unsigned code: the base is modified, naming it', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('unlisted', base)), {
      knownKeys: KNOWN,
    }))!;
    expect(report.unlisted).toEqual(['random.py']);
    expect(softwareVerdictLine(report)).toContain('1 program file is not in it');
    expect(report.problems.find((p) => p.code === 'software.file.unlisted')!.message).toContain(
      'a node could run it as part of Seattle',
    );
  });

  it('a listed file left out is allowed and noted: the node updater fetches it', async () => {
    const report = (await checkInstallerSoftware(readFileSync(cases.file('left-out', base)), {
      knownKeys: KNOWN,
    }))!;
    expect(report.verdict).toBe('intact');
    expect(report.missing).toEqual(['nmmain.py']);
    expect(report.intact).toBe(report.listed - 1);
    expect(softwareNotes(report)[0]).toEqual({
      kind: 'left-out',
      text: "1 listed file is not in this installer; the node's updater fetches them.",
    });
  });

  it('an unsigned script is allowed, with its SHA-256; a changed one only changes its SHA-256', async () => {
    const added = (await checkInstallerSoftware(readFileSync(cases.file('unsigned-script', base)), {
      knownKeys: KNOWN,
    }))!;
    expect(added.verdict).toBe('intact');
    const script = added.unsigned.find((f) => f.path === `${PROGRAM}start_seattle.sh`)!;
    expect(script.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(softwareNotes(added).map((n) => n.kind)).toEqual(['unsigned']);
    const made = (await checkInstallerSoftware(readFileSync(cases.file('made', base)), {
      knownKeys: KNOWN,
    }))!;
    const changed = (await checkInstallerSoftware(
      readFileSync(cases.file('changed-script', base)),
      { knownKeys: KNOWN },
    ))!;
    expect(changed.verdict).toBe('intact');
    expect(changed.unsigned.map((f) => f.path)).toEqual(made.unsigned.map((f) => f.path));
    expect(changed.unsigned[0]!.sha256).not.toBe(made.unsigned[0]!.sha256);
  });

  it('a changed signature digit fails, and a removed metainfo is not signed', async () => {
    const bad = (await checkInstallerSoftware(readFileSync(cases.file('signature', base))))!;
    expect(bad.problems.map((p) => p.code)).toContain('software.signature.fails');
    expect(softwareVerdictLine(bad)).toMatch(/^Signature fails/);
    const none = (await checkInstallerSoftware(readFileSync(cases.file('not-signed', base))))!;
    expect(softwareVerdictLine(none)).toMatch(/^Not signed/);
    expect(softwareBuildable(none)).toBe(false);
  });

  it('another key is untrusted until it is listed', async () => {
    const bytes = readFileSync(cases.file('other-key', base));
    const otherKey = readFileSync(cases.otherKey, 'utf8').trim();
    const untrusted = (await checkInstallerSoftware(bytes, { knownKeys: KNOWN }))!;
    expect(untrusted.verdict).toBe('untrusted-key');
    expect(untrusted.problems.find((p) => p.code === 'software.key.untrusted')!.message).toMatch(
      /UPDATE_KEYS.*--update-key FILE.*updateKeys in config\.json/,
    );
    const listed = knownUpdateKeys([{ key: otherKey, label: 'our key' }]);
    expect((await checkInstallerSoftware(bytes, { knownKeys: listed }))!.verdict).toBe('intact');
    expect(pythonVerdict(cases.file('other-key', base), [cases.otherKey]).verdict).toBe('intact');
  });
});

describe('the update key the node trusts (softwareupdater.py)', () => {
  const [e, n] = SEATTLE_UPDATE_KEY.split(' ');
  const line = `softwareupdatepublickey = {'e':${e}, 'n':${n}}`;
  const file = (body: string) => `import sys\n\n# the key\n${body}\n\ndef main():\n  pass\n`;

  it('reads the line Seattle writes, with or without spaces, a comment, or Windows line ends', () => {
    for (const text of [
      file(line),
      file(`softwareupdatepublickey={'e': ${e},'n' : ${n}}  # ours`),
      file(line).replace(/\n/g, '\r\n'),
    ]) {
      expect(readSoftwareUpdaterKey(text)).toEqual({ key: SEATTLE_UPDATE_KEY, problems: [] });
    }
  });

  it.each([
    ['no assignment', file('softwareurl = "x"'), /does not set softwareupdatepublickey/],
    ['two assignments', file(`${line}\n  softwareupdatepublickey = None`), /assigned on 2 lines/],
    ['double quotes', file(line.replace(/'/g, '"')), /not written as Seattle writes it/],
    ['n before e', file(`softwareupdatepublickey = {'n':${n}, 'e':${e}}`), /not written as/],
    ['a Python 2 long', file(`${line.slice(0, -1)}L}`), /not written as/],
    ['indented', file(`  ${line}`), /not written as/],
    ['an expression', file('softwareupdatepublickey = rsa_file_to_publickey("k")'), /not written/],
    ['e not below n', file(`softwareupdatepublickey = {'e':${n}, 'n':${e}}`), /smaller than/],
  ])('refuses %s, naming the line', (_name, text, message) => {
    const { key, problems } = readSoftwareUpdaterKey(text);
    expect(key).toBeUndefined();
    expect(problems[0]!.code).toBe('software.update-key.unreadable');
    expect(problems[0]!.message).toMatch(message);
  });

  it('where softwareupdater.publickey is there too, the two must agree', () => {
    expect(nodeUpdateKey({ updater: file(line), publicKeyFile: SEATTLE_UPDATE_KEY })).toEqual({
      key: SEATTLE_UPDATE_KEY,
      problems: [],
    });
    expect(
      nodeUpdateKey({ updater: file(line), publicKeyFile: DEMO_UPDATE_KEY }).problems[0]!.code,
    ).toBe('software.update-key.disagree');
    expect(nodeUpdateKey({ publicKeyFile: DEMO_UPDATE_KEY }).key).toBe(DEMO_UPDATE_KEY);
    expect(nodeUpdateKey({}).problems[0]!.code).toBe('software.update-key.missing');
  });
});

describe('which unlisted files a node could run', () => {
  it.each([
    ['sitecustomize.py', true],
    ['NMMAIN.PY', true],
    ['lib/x.pyw', true],
    ['a.pyc', true],
    ['a.pyo', true],
    ['a.pyd', true],
    ['readline.so', true],
    ['x.DLL', true],
    ['advertise.r2py', true],
    ['old.repy', true],
    ['install.sh', false],
    ['start_seattle.bat', false],
    ['nodeman.cfg', false],
    ['readline.so.mac', false],
    ['README.txt', false],
  ])('%s: %s', (path, code) => {
    expect(isSeattleCode(path)).toBe(code);
  });
});

describe('the demo update key', () => {
  it('is trusted by a deployment only when every base is validly signed by it', () => {
    expect(deploymentTrustsDemoKey([DEMO_UPDATE_KEY, DEMO_UPDATE_KEY])).toBe(true);
    expect(deploymentTrustsDemoKey([DEMO_UPDATE_KEY, SEATTLE_UPDATE_KEY])).toBe(false);
    expect(deploymentTrustsDemoKey([DEMO_UPDATE_KEY, undefined])).toBe(false);
    expect(deploymentTrustsDemoKey([])).toBe(false);
  });

  it('the page trusts it only while its manifest lists nothing but the bases config.json pins', () => {
    const a = 'a'.repeat(64);
    const b = 'b'.repeat(64);
    expect(demoBasesHold([a, b], [a, b])).toBe(true);
    expect(demoBasesHold([a, 'c'.repeat(64)], [a, b])).toBe(false);
    expect(demoBasesHold([a], undefined)).toBe(false);
    expect(demoBasesHold([], [a])).toBe(false);
  });

  it('no setting can trust it: UPDATE_KEYS and config.json refuse it, naming where', () => {
    const { keys, problems } = parseUpdateKeys(
      `${SEATTLE_UPDATE_KEY} # fine\n${DEMO_UPDATE_KEY}\n`,
      'UPDATE_KEYS',
    );
    expect(keys).toEqual([{ key: SEATTLE_UPDATE_KEY, label: 'fine' }]);
    expect(problems).toMatchObject([
      { code: 'settings.update-keys.demo', path: 'UPDATE_KEYS: line 2' },
    ]);
    const page = checkDeploymentSettings(
      {
        reservedShare: 20,
        reservedKey: SEATTLE_UPDATE_KEY,
        defaultKeyBits: 2048,
        updateKeys: [{ key: DEMO_UPDATE_KEY, label: 'demo' }],
      },
      {
        reservedShare: 'reservedShare',
        reservedKey: 'reservedKey',
        defaultKeyBits: 'defaultKeyBits',
        updateKeys: 'updateKeys',
      },
    );
    expect(page.settings).toBeUndefined();
    expect(page.problems).toMatchObject([
      { code: 'settings.update-keys.demo', path: 'updateKeys[0]' },
    ]);
  });
});

describe('parseUpdateKeys', () => {
  it('reads one key per line with a label after #, and names the line of a bad one', () => {
    const { keys, problems } = parseUpdateKeys(
      `# our keys\n${SEATTLE_UPDATE_KEY} # ours\n\n12 x\n${SEATTLE_UPDATE_KEY}\n`,
      'UPDATE_KEYS',
    );
    expect(keys).toEqual([
      { key: SEATTLE_UPDATE_KEY, label: 'ours' },
      { key: SEATTLE_UPDATE_KEY, label: 'an update key this deployment trusts' },
    ]);
    expect(problems.map((p) => p.path)).toEqual(['UPDATE_KEYS: line 4']);
  });
});
