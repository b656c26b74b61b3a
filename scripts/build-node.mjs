// The Node build of the command line and the server: dist-node/cib.mjs, dist-node/server.mjs and
// the server's worker threads (store, key generator, installer builds), as ES modules with shared chunks, so
// production runs compiled JavaScript and each command loads only the chunks it uses. Packages
// stay in node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist-node');

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: [
    { in: 'src/cli/main.ts', out: 'cib' },
    { in: 'src/server/main.ts', out: 'server' },
    { in: 'src/server/store-worker.ts', out: 'store-worker' },
    { in: 'src/server/keygen-worker.ts', out: 'keygen-worker' },
    { in: 'src/server/build-worker.ts', out: 'build-worker' },
  ],
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
