import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The command-line tests run the compiled `cib`, so build it from the current sources first. */
export default function setup(): void {
  execFileSync(process.execPath, [resolve(import.meta.dirname, '../../scripts/build-node.mjs')], {
    stdio: 'inherit',
  });
}
