import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startServer, type AppOptions, type RunningServer } from '../../src/server/app.ts';
import { loadServerSettings, type ServerSettings } from '../../src/server/server-settings.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BASES_DIR = join(ROOT, 'base-installers');
const run = promisify(execFile);

export interface TestServer extends RunningServer {
  settings: ServerSettings;
  dir: string;
  dataDir: string;
  distDir: string;
  stop(): Promise<void>;
}

/**
 * A real server on an ephemeral loopback port with its own DATA_DIR and a small dist/ (an
 * index.html and a copy of the base installers), so tests need no `vite build`.
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: AppOptions = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cib-server-'));
  const distDir = join(dir, 'dist');
  mkdirSync(distDir);
  writeFileSync(join(distDir, 'index.html'), '<!doctype html><title>cib test page</title>\n');
  cpSync(BASES_DIR, join(distDir, 'base-installers'), { recursive: true });
  const dataDir = join(dir, 'data');
  const settings = loadServerSettings({
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    DIST_DIR: distDir,
    LOG_REQUESTS: '0',
    ...env,
  });
  const running = await startServer(settings, options);
  return {
    ...running,
    settings,
    dir,
    dataDir,
    distDir,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** JSON the Python scripts print; its shape is what the tests assert on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON, checked by the tests
export type PythonOutput = Record<string, any>;

/** Runs one of tests/server/python/*.py with python3 and parses the JSON it prints. */
export async function runPython(
  script: string,
  args: string[],
  timeout = 120_000,
): Promise<PythonOutput> {
  const { stdout } = await run('python3', [join(ROOT, 'tests/server/python', script), ...args], {
    maxBuffer: 16 * 1024 * 1024,
    timeout,
  });
  return JSON.parse(stdout) as PythonOutput;
}
