/**
 * Bases made as Seattle's own packaging makes them (tests/support/seattle-bases.ts): prepare-base
 * and customize (tgz and zip) accept them and the installers hold the configured vesselinfo; a
 * changed listed file, an unlisted .py, an untrusted key and the demo key beside real bases are
 * refused; a changed unsigned script is accepted and reported. Then the operator's path from
 * clones of Seattle's repositories: assemble-source and make-base --layout seattle.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEMO_KEYS,
  makeClones,
  MUTATE,
  packageBases,
  seattleBases,
  type SeattleBases,
} from '../support/seattle-bases.ts';
import { RESERVED_KEY_FIXTURE, runCib, tempDir } from '../support/tools.ts';

const OWNER = `65537 ${2n ** 2047n + 12345n}`;
const USER = `65537 ${2n ** 2047n + 54321n}`;
const VESSELINFO = 'seattle/seattle_repy/vesselinfo';
const EXPECTED_VESSELINFO = `Percent 80\nOwner ${OWNER}\nUser ${USER}\nPercent 20\nOwner ${RESERVED_KEY_FIXTURE}`;
const PLATFORM_OF: Record<string, string> = {
  'seattle_linux.tgz': 'linux',
  'seattle_mac.tgz': 'mac',
  'seattle_win.zip': 'windows',
  'seattle_android.zip': 'android',
};

let bases: SeattleBases;
let config: string;

beforeAll(() => {
  bases = seattleBases();
  config = join(bases.work, 'build.json');
  writeFileSync(
    config,
    JSON.stringify({
      vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }],
      user_data: { owner: { public_key: OWNER }, user: { public_key: USER } },
    }),
  );
}, 120_000);

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** `cib customize` of `base` (checked against --expect-sha256 when given, else its manifest). */
function customize(base: string, out: string, env: NodeJS.ProcessEnv, expect?: string) {
  return runCib(
    [
      'customize',
      '--base',
      base,
      '--config',
      config,
      '--out',
      out,
      ...(expect ? ['--expect-sha256', expect] : []),
    ],
    { env },
  );
}

/** A copy of `base` changed by tests/python/mutate_base.py. */
function mutated(base: string, action: string, path: string): string {
  const out = join(tempDir(), base.endsWith('.zip') ? 'changed.zip' : 'changed.tgz');
  execFileSync('python3', [MUTATE, base, out, action, path]);
  return out;
}

describe("Seattle's own bases", () => {
  it.each(Object.entries(PLATFORM_OF))(
    '%s passes the software check: listed files left out and unsigned scripts are notes',
    (file, platform) => {
      const run = runCib(['inspect', join(bases.deploy, file), '--json'], { env: bases.env });
      const software = JSON.parse(run.stdout).software;
      expect(software.verdict).toBe('intact');
      expect(software.key).toMatchObject({ trusted: true, label: "the operator's update key" });
      // Exactly what the packaging left out and added, by its own account.
      expect([...software.missing].sort()).toEqual(bases.report.left_out[platform]);
      expect(
        (software.unsigned as { path: string }[])
          .map((f) => f.path)
          .filter((p) => p.startsWith('seattle/seattle_repy/'))
          .map((p) => p.slice('seattle/seattle_repy/'.length)),
      ).toEqual(bases.report.unsigned[platform]!.map((p) => p.toLowerCase()).sort());
      expect(software.missing).toContain('opendhtadvertise.r2py');
      expect(software.notes[0]).toMatch(/listed files? (is|are) not in this installer/);
    },
  );

  it('prepare-base made them deployable: the manifest lists every base', () => {
    const manifest = JSON.parse(readFileSync(join(bases.deploy, 'manifest.json'), 'utf8'));
    expect(manifest.bases.map((b: { file: string }) => b.file).sort()).toEqual(
      Object.keys(PLATFORM_OF).sort(),
    );
  });

  it.each([
    ['seattle_linux.tgz', 'tar'],
    ['seattle_win.zip', 'unzip'],
  ])('customize writes %s with the configured vesselinfo, read back by %s', (file, tool) => {
    const out = join(tempDir(), file);
    const run = customize(join(bases.deploy, file), out, bases.env);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`against ${join(bases.deploy, 'manifest.json')}`);
    expect(run.stderr).toContain("Seattle software signed by the operator's update key");
    expect(run.stderr).toMatch(/note: \d+ files? (is|are) not covered by the signature/);
    const vesselinfo =
      tool === 'tar'
        ? execFileSync('tar', ['-xzOf', out, VESSELINFO], { encoding: 'utf8' })
        : execFileSync('unzip', ['-p', out, VESSELINFO], { encoding: 'utf8' });
    expect(vesselinfo).toBe(EXPECTED_VESSELINFO);
    // Nothing else changed: the unsigned scripts are still there, inside and outside.
    const listing =
      tool === 'tar'
        ? execFileSync('tar', ['-tzf', out], { encoding: 'utf8' })
        : execFileSync('unzip', ['-Z1', out], { encoding: 'utf8' });
    const script = file.endsWith('.tgz') ? 'install.sh' : 'install.bat';
    expect(listing).toContain(`seattle/seattle_repy/${script}`);
    expect(listing).toContain(`seattle/${script}`);
  });
});

describe('refusals', () => {
  it.each(['seattle_linux.tgz', 'seattle_win.zip'])(
    '%s with a changed listed file is refused, writing nothing',
    (file) => {
      const changed = mutated(
        join(bases.deploy, file),
        'flip-byte',
        'seattle/seattle_repy/nmmain.py',
      );
      const out = join(tempDir(), file);
      const run = customize(changed, out, bases.env, sha256(changed));
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('The base installer is refused: Modified: 1 file differs');
      expect(run.stderr).toContain('seattle/seattle_repy/nmmain.py');
      expect(existsSync(out)).toBe(false);
    },
  );

  it.each(['seattle_linux.tgz', 'seattle_win.zip'])(
    '%s with an unlisted .py is refused, naming it',
    (file) => {
      const changed = mutated(
        join(bases.deploy, file),
        'add',
        'seattle/seattle_repy/sitecustomize.py',
      );
      const out = join(tempDir(), file);
      const run = customize(changed, out, bases.env, sha256(changed));
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('1 program file is not in it');
      expect(run.stderr).toContain(
        'seattle/seattle_repy/sitecustomize.py: This file is not in the signed list, and a node could run it',
      );
      expect(existsSync(out)).toBe(false);
    },
  );

  it('a base signed by a key this deployment does not trust is refused, with its fingerprint and how to trust it', () => {
    const out = join(tempDir(), 'seattle_linux.tgz');
    const run = customize(join(bases.deploy, 'seattle_linux.tgz'), out, bases.bareEnv);
    expect(run.status).toBe(1);
    const fingerprint =
      /Untrusted key: signed by an update key this deployment does not trust \(([0-9a-f:]{19})\)/.exec(
        run.stderr,
      );
    expect(fingerprint).not.toBeNull();
    expect(run.stderr).toMatch(/trust it with UPDATE_KEYS or UPDATE_KEYS_FILE/);
    expect(existsSync(out)).toBe(false);
    // The same with --update-key naming the key file builds.
    const trusted = runCib(
      [
        'customize',
        '--base',
        join(bases.deploy, 'seattle_linux.tgz'),
        '--config',
        config,
        '--out',
        out,
        '--update-key',
        bases.publicKeyFile,
      ],
      { env: bases.bareEnv },
    );
    expect(trusted.status, trusted.stderr).toBe(0);
  });

  it('a demo-key-signed base with a changed nmmain.py, placed among real bases, is refused; among demo bases only, the demo key counts', () => {
    const work = tempDir();
    // Anyone can sign with the demo key: Seattle's packaging of a changed program, demo-signed.
    const evilClones = makeClones(
      join(work, 'clones'),
      DEMO_KEYS.publicKey,
      'import os  # changed\n',
    );
    const demoSigned = join(work, 'demo-signed');
    packageBases(evilClones, DEMO_KEYS, demoSigned);
    const mixed = join(work, 'mixed');
    cpSync(bases.deploy, mixed, { recursive: true });
    cpSync(join(demoSigned, 'seattle_linux.tgz'), join(mixed, 'seattle_linux.tgz'));
    const manifest = JSON.parse(readFileSync(join(mixed, 'manifest.json'), 'utf8'));
    const linux = manifest.bases.find((b: { file: string }) => b.file === 'seattle_linux.tgz');
    linux.sha256 = sha256(join(mixed, 'seattle_linux.tgz'));
    linux.size = readFileSync(join(mixed, 'seattle_linux.tgz')).length;
    linux.layout = 'plain';
    writeFileSync(join(mixed, 'manifest.json'), JSON.stringify(manifest));
    const out = join(work, 'out.tgz');
    const refused = customize(join(mixed, 'seattle_linux.tgz'), out, bases.env);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('Untrusted key: signed by the demo update key');
    expect(refused.stderr).toContain('whose private key is public');
    expect(existsSync(out)).toBe(false);
    // prepare-base of that folder says so before anything is deployed.
    const prepared = runCib(['prepare-base', mixed, '--out', join(work, 'deploy')], {
      env: bases.env,
    });
    expect(prepared.status).toBe(1);
    expect(prepared.stderr).toContain(
      `${join(mixed, 'seattle_linux.tgz')}: The base installer is refused`,
    );
    expect(existsSync(join(work, 'deploy'))).toBe(false);
    // The demo-signed bases alone are a demo deployment: there the key is trusted, by the files.
    const demo = join(work, 'demo-deploy');
    expect(runCib(['prepare-base', demoSigned, '--out', demo], { env: bases.bareEnv }).status).toBe(
      0,
    );
    const built = customize(join(demo, 'seattle_linux.tgz'), out, bases.bareEnv);
    expect(built.status, built.stderr).toBe(0);
    expect(built.stderr).toContain('signed by the demo update key (its private key is public');
  });

  it.each(['seattle_linux.tgz', 'seattle_win.zip'])(
    '%s with a changed unsigned script is accepted, and the script reported by its new SHA-256',
    (file) => {
      const script = file.endsWith('.tgz') ? 'install.sh' : 'install.bat';
      const changed = mutated(
        join(bases.deploy, file),
        'flip-byte',
        `seattle/seattle_repy/${script}`,
      );
      const read = file.endsWith('.tgz')
        ? execFileSync('tar', ['-xzOf', changed, `seattle/seattle_repy/${script}`])
        : execFileSync('unzip', ['-p', changed, `seattle/seattle_repy/${script}`]);
      const digest = createHash('sha256').update(read).digest('hex');
      const out = join(tempDir(), file);
      const run = customize(changed, out, bases.env, sha256(changed));
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).toContain(`unsigned  seattle/seattle_repy/${script}  sha256 ${digest}`);
      expect(existsSync(out)).toBe(true);
    },
  );
});

describe("from clones of Seattle's repositories: assemble-source, then make-base --layout seattle", () => {
  let source: string;
  let made: string;

  beforeAll(() => {
    // Clones as they come: softwareupdater.py still names someone else's key.
    const work = tempDir();
    const clones = makeClones(join(work, 'clones'));
    const unkeyed = join(work, 'unkeyed');
    expect(runCib(['assemble-source', '--seattle', clones, '--out', unkeyed]).status).toBe(0);
    const refused = runCib([
      'make-base',
      '--src',
      unkeyed,
      '--layout',
      'seattle',
      '--pubkey',
      bases.publicKeyFile,
      '--privkey',
      bases.privateKeyFile,
      '--out',
      join(work, 'never'),
    ]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('softwareupdatepublickey in softwareupdater.py is');
    expect(existsSync(join(work, 'never'))).toBe(false);
    // The two commands of the README.
    source = join(work, 'source');
    const assembled = runCib([
      'assemble-source',
      '--seattle',
      clones,
      '--out',
      source,
      '--pubkey',
      bases.publicKeyFile,
    ]);
    expect(assembled.status, assembled.stderr).toBe(0);
    made = join(work, 'bases');
    const build = runCib([
      'make-base',
      '--src',
      source,
      '--layout',
      'seattle',
      '--pubkey',
      bases.publicKeyFile,
      '--privkey',
      bases.privateKeyFile,
      '--out',
      made,
      '--version',
      'seattle-made',
      '--timestamp',
      '1735732800',
    ]);
    expect(build.status, build.stderr).toBe(0);
  }, 120_000);

  /** The files under seattle_repy/ the metainfo of a base lists. */
  function listed(base: string): string[] {
    const metainfo = execFileSync('tar', ['-xzOf', base, 'seattle/seattle_repy/metainfo'], {
      encoding: 'latin1',
    });
    return metainfo
      .split('\n!')[0]!
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[0]!)
      .sort();
  }

  it("chooses the program files Seattle's packaging chooses", () => {
    // Seattle lists what final_files.fi then deletes and adds nodeman.cfg and resources.offcut
    // unsigned; make-base leaves the first out and signs the second, and adds its key file.
    const expected = [
      ...bases.report.listed.filter((p) => p !== 'opendhtadvertise.r2py'),
      'nodeman.cfg',
      'resources.offcut',
      'softwareupdater.publickey',
    ].sort();
    expect(listed(join(made, 'seattle_linux.tgz'))).toEqual(expected);
  });

  it('lays the bases out as Seattle does: scripts inside, unsigned; Linux and Mac apart; the wrapper on top; pyreadline for Windows only', () => {
    const tarList = (f: string) =>
      execFileSync('tar', ['-tzf', join(made, f)], { encoding: 'utf8' });
    const zipList = (f: string) =>
      execFileSync('unzip', ['-Z1', join(made, f)], { encoding: 'utf8' });
    for (const listing of [
      tarList('seattle_linux.tgz'),
      tarList('seattle_mac.tgz'),
      zipList('seattle_android.zip'),
    ]) {
      expect(listing).toContain('seattle/install.sh');
      expect(listing).toContain('seattle/seattle_repy/start_seattle.sh');
      expect(listing).not.toContain('pyreadline');
    }
    expect(zipList('seattle_win.zip')).toContain(
      'seattle/seattle_repy/pyreadline/console/console.py',
    );
    expect(zipList('seattle_win.zip')).toContain('seattle/seattle_repy/start_seattle_shortcut.bat');
    const inner = (f: string) =>
      execFileSync('tar', ['-xzOf', join(made, f), 'seattle/seattle_repy/install.sh'], {
        encoding: 'utf8',
      });
    expect(inner('seattle_linux.tgz')).toContain('linux install.sh');
    expect(inner('seattle_mac.tgz')).toContain('mac install.sh');
    expect(listed(join(made, 'seattle_linux.tgz'))).not.toContain('install.sh');
  });

  it('gives bases that prepare-base and customize accept, with the notes Seattle’s bases have', () => {
    const run = runCib(['prepare-base', made, '--out', join(tempDir(), 'deploy')], {
      env: bases.env,
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('left out  seattle/seattle_repy/pyreadline/console/console.py');
    expect(run.stdout).toContain('unsigned  seattle/seattle_repy/install.sh');
    const out = join(tempDir(), 'seattle_android.zip');
    const built = customize(join(made, 'seattle_android.zip'), out, bases.env);
    expect(built.status, built.stderr).toBe(0);
    expect(execFileSync('unzip', ['-p', out, VESSELINFO], { encoding: 'utf8' })).toBe(
      EXPECTED_VESSELINFO,
    );
  });
});
