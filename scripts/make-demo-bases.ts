/**
 * `npm run make-demo-bases`: rebuilds the committed demo base installers in base-installers/
 * from demo/source with the demo-only update key pair. The timestamp is fixed (never the clock),
 * so the output is byte-identical on every machine; tests/cli/make-base.test.ts rebuilds with
 * the same arguments and fails when the committed files are stale.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeBaseCommand } from '../src/cli/commands/make-base.ts';
import { CibError, describeProblems } from '../src/core/problems.ts';
import { PROJECT_ROOT } from '../src/host/deployment.ts';

export const DEMO_BASES_VERSION = 'demo-1';
/** 2025-01-01T12:00:00Z: noon UTC, far from any time zone's daylight-saving switch. */
export const DEMO_BASES_TIMESTAMP = 1_735_732_800;
export const DEMO_BASES_DIR = resolve(PROJECT_ROOT, 'base-installers');

/** The `cib make-base` arguments that build the demo bases into `out`. */
export function demoBaseArgs(out: string): string[] {
  return [
    '--src',
    resolve(PROJECT_ROOT, 'demo/source'),
    '--pubkey',
    resolve(PROJECT_ROOT, 'demo/update-keys/demo.publickey'),
    '--privkey',
    resolve(PROJECT_ROOT, 'demo/update-keys/demo.privatekey'),
    '--out',
    out,
    '--version',
    DEMO_BASES_VERSION,
    '--timestamp',
    String(DEMO_BASES_TIMESTAMP),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = await makeBaseCommand.run(demoBaseArgs(DEMO_BASES_DIR));
  } catch (error) {
    if (!(error instanceof CibError)) throw error;
    console.error(describeProblems(error.problems));
    process.exitCode = 1;
  }
}
