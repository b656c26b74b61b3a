import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The command-line tests run the compiled `cib`, so build it from the current sources first. The
 * checks `cib customize` keeps go to a folder of this run, never the user's cache.
 */
export default function setup(): () => void {
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../../scripts/build-node.mjs')], {
    stdio: 'inherit',
  });
  const cache = mkdtempSync(join(tmpdir(), 'cib-test-cache-'));
  process.env.CIB_CACHE_DIR = cache;
  return () => rmSync(cache, { recursive: true, force: true });
}
