/**
 * A clone with nothing beside it: the project's files copied into an empty temporary folder (only
 * node_modules linked in, to stay quick, and unlinked again once built: the compiled command line
 * and server must need no package at run time), built there, and run with no RESERVED_* settings.
 * The reserved vessel must carry the Seattle reserved key the repository ships, in the command
 * line and in the compiled server's answer to the clearinghouse's call.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from '../server/helpers.ts';
import { RESERVED_KEY_FIXTURE, ROOT } from '../support/tools.ts';
import { listeningOrigin } from '../support/server-process.ts';

const work = mkdtempSync(join(tmpdir(), 'cib-standalone-'));
const clone = join(work, 'repo');
let server: ChildProcess | undefined;

/** The environment of a person with no project settings at all. */
function bareEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(RESERVED_|DEFAULT_KEY_BITS|BASES_DIR|DIST_DIR|DATA_DIR|PUBLIC_URL|BASE_PATH)/.test(name))
      continue;
    if (name.startsWith('VITEST') || name.startsWith('npm_')) continue;
    env[name] = value;
  }
  return env;
}

beforeAll(() => {
  // What a clone holds: the tracked files and those not yet committed, nothing that is ignored.
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
    },
  )
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    try {
      cpSync(join(ROOT, file), join(clone, file));
    } catch {
      // a file deleted in the work tree but still in the index: a clone would not have it either
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  execFileSync('npm', ['run', 'build'], { cwd: clone, env: bareEnvironment(), stdio: 'pipe' });
  unlinkSync(join(clone, 'node_modules'));
}, 240_000);

afterAll(() => {
  server?.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('a clone with nothing beside it', () => {
  it('has no folder beside it to lean on', () => {
    expect(readdirSync(work)).toEqual(['repo']);
  });

  it('builds the page with the shipped reserved key in config.json', () => {
    const config = JSON.parse(readFileSync(join(clone, 'dist/config.json'), 'utf8'));
    expect(config.reservedKey).toBe(RESERVED_KEY_FIXTURE);
    expect(config.reservedShare).toBe(20);
  });

  it('gives the reserved vessel the Seattle reserved key in cib vesselinfo', () => {
    const config = join(work, 'build.json');
    writeFileSync(
      config,
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex', users: [] }],
        user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
      }),
    );
    const stdout = execFileSync(
      process.execPath,
      [join(clone, 'bin/cib.cjs'), 'vesselinfo', '--config', config],
      { cwd: work, env: bareEnvironment(), encoding: 'utf8' },
    );
    expect(stdout.trimEnd().split('\n').slice(-2)).toEqual([
      'Percent 20',
      `Owner ${RESERVED_KEY_FIXTURE}`,
    ]);
  });

  it('customises a demo base with the compiled command line alone, walking it and then from the kept check', () => {
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);
    const config = join(work, 'customize.json');
    writeFileSync(
      config,
      JSON.stringify({
        vessels: [{ percentage: 80, owner: 'alex', users: [] }],
        user_data: { alex: { public_key: `65537 ${2n ** 2047n + 12345n}` } },
      }),
    );
    const cache = mkdtempSync(join(work, 'cache-'));
    const outputs = ['first.tgz', 'kept.tgz'].map((name) => {
      const out = join(work, name);
      const run = spawnSync(
        process.execPath,
        [
          join(clone, 'bin/cib.cjs'),
          'customize',
          '--base',
          join(clone, 'base-installers/seattle_linux.tgz'),
          '--config',
          config,
          '--out',
          out,
        ],
        { cwd: work, env: { ...bareEnvironment(), CIB_CACHE_DIR: cache }, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      return { bytes: readFileSync(out), stderr: run.stderr };
    });
    expect(outputs.map((o) => /check: (walked|kept)/.exec(o.stderr)?.[1])).toEqual([
      'walked',
      'kept',
    ]);
    expect(Buffer.compare(outputs[0]!.bytes, outputs[1]!.bytes)).toBe(0);
    const names = execFileSync('tar', ['-tzf', join(work, 'kept.tgz')], { encoding: 'utf8' });
    expect(names.trim().split('\n').at(-1)).toBe('seattle/seattle_repy/vesselinfo');
  });

  it('serves the clearinghouse call from the compiled server with the Seattle reserved key', async () => {
    server = spawn(process.execPath, [join(clone, 'dist-node/server.mjs')], {
      cwd: clone,
      env: { ...bareEnvironment(), HOST: '127.0.0.1', PORT: '0', LOG_REQUESTS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const origin = await listeningOrigin(server);
    const out = await runPython('installers.py', [
      `${origin}/xmlrpc/`,
      join(clone, 'base-installers'),
      mkdtempSync(join(work, 'downloads-')),
    ]);
    const vesselinfo = out.platforms.linux.vesselinfo as string;
    expect(vesselinfo.split('\n').slice(-2)).toEqual([
      'Percent 20',
      `Owner ${RESERVED_KEY_FIXTURE}`,
    ]);
    expect(out.platforms.windows.disposition).toBe('attachment; filename="seattle_win.zip"');
  });
});
