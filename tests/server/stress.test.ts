/**
 * The old service's stress example (50 build_installers calls at once, two generated keys each)
 * against the compiled server with its default settings, as `npm start` runs it: every call is
 * answered, none refused "busy". About a hundred 2048-bit keys: the slowest server test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { ROOT, runPython } from './helpers.ts';
import { listeningOrigin } from '../support/server-process.ts';

let work: string;
let server: ChildProcess | undefined;
let origin: string;

/** The compiled server with no setting but where to listen and where to keep its records. */
function startCompiled(dataDir: string): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, 'dist-node/server.mjs')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  return listeningOrigin(child);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'cib-stress-'));
  origin = await startCompiled(join(work, 'data'));
});
afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe("the old service's stress example", () => {
  it('answers 50 calls at once, each generating two 2048-bit keys, with no fault', async () => {
    const darren = (await generateKeyPair(1024)).publicKey;
    const out = await runPython('stress.py', [`${origin}/xmlrpc/`, darren, '50', '2048'], 300_000);
    expect(out.faults).toEqual([]);
    expect(out.answered).toBe(50);
    expect(out.distinct_build_ids).toBe(50);
    expect(out.distinct_generated_keys).toBe(100);
    expect(out.checked).toEqual({ urls_match: 50, pairs_sound: 50, supplied_kept: 50 });
    const health = (await (await fetch(`${origin}/healthz`)).json()) as {
      keygen: Record<string, number>;
    };
    expect(health.keygen).toMatchObject({ running: 0, queued: 0, calls: 0 });
  }, 300_000);
});
