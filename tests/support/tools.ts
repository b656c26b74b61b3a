/** Shared test plumbing: run the real `cib`, make temp folders, read trees with real tools. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseManifest, type BaseManifestEntry } from '../../src/core/manifest.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The `cib` bin, running the compiled command line (tests/support/global-setup.ts builds it). */
export const CLI = join(ROOT, 'bin/cib.cjs');
export const BASES = join(ROOT, 'base-installers');
/** The Seattle reserved key, kept as a fixture so tests compare the shipped constant with it. */
export const RESERVED_KEY_FIXTURE = readFileSync(
  join(ROOT, 'tests/fixtures/seattle-reserved.publickey'),
  'utf8',
).trim();

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cib` as a person would (the bin); `env` replaces the environment when given. */
export function runCib(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): Run {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    input: options.input,
    env: options.env ?? process.env,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `cib customize --base BASE --config CONFIG --out OUT`, with any further arguments. */
export function runCustomize(
  files: { base: string; config: string; out: string },
  options: { env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Run {
  return runCib(
    [
      'customize',
      '--base',
      files.base,
      '--config',
      files.config,
      '--out',
      files.out,
      ...(options.args ?? []),
    ],
    options.env ? { env: options.env } : {},
  );
}

export function tempDir(prefix = 'cib-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every regular file below `dir`, relative path -> bytes. */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

/** Extracts an installer with GNU tar or Info-ZIP unzip into a new temp folder. */
export function extractWithTools(file: string): string {
  const dir = tempDir('cib-extract-');
  if (/\.t?gz$/.test(file)) execFileSync('tar', ['-xzf', file, '-C', dir]);
  else execFileSync('unzip', ['-q', file, '-d', dir]);
  return dir;
}

/** The demo bases' manifest, read by the product's own validated reader. */
export function demoManifest(): BaseManifestEntry[] {
  const { manifest, problems } = parseManifest(readFileSync(join(BASES, 'manifest.json'), 'utf8'));
  if (!manifest) throw new Error(`base-installers/manifest.json: ${JSON.stringify(problems)}`);
  return manifest.bases;
}
