// The Node build of the command line and the server, into dist-node/. The packages they use are
// bundled in: nothing is resolved from node_modules at run time, and dist-node/ runs on its own.
//
// - The command line is one CommonJS file, dist-node/cib.cjs (started by bin/cib.cjs, which keeps
//   V8's compiled code for it), so a command costs Node's start-up and little more: no ES module
//   loader (which reads modules with promises and loads Node's stream and readline modules to do
//   it), no package resolution, one file to compile. Each command's code still runs only when the
//   command does. Node's WebCrypto generates keys here: node-forge is the page's fallback alone.
// - The server (dist-node/server.mjs) and its worker threads are ES modules with shared chunks;
//   add a worker thread's entry to SERVER_ENTRIES.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = resolve(root, 'dist-node');

const SERVER_ENTRIES = [
  { in: 'src/server/main.ts', out: 'server' },
  { in: 'src/server/store-worker.ts', out: 'store-worker' },
  { in: 'src/server/keygen-worker.ts', out: 'keygen-worker' },
  { in: 'src/server/build-worker.ts', out: 'build-worker' },
];

/**
 * Node's built-in modules through `require` rather than `import`: an ES module import of, say,
 * node:fs reads every export at once, and its lazy ones (fs.promises, the stream classes,
 * crypto.webcrypto) load dozens of Node's own modules that a command never uses.
 */
const builtinsByRequire = {
  name: 'builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.namespace === 'builtin'
        ? { path: args.path, external: true }
        : { path: args.path, namespace: 'builtin' },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

/**
 * In the command line, `import('node:…')` becomes require() too (static imports of built-ins are
 * require() calls already in a CommonJS build): bin/cib.cjs compiles the file as a script, with
 * V8's code cache, and a script has no ES module loader behind import().
 */
const dynamicBuiltinsByRequire = {
  name: 'dynamic-builtins-by-require',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin' } : undefined,
    );
    build.onResolve({ filter: /^node:/, namespace: 'builtin' }, (args) => ({
      path: args.path,
      external: true,
    }));
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // ES module builds first: a UMD build (jsonc-parser's) requires its own files at run time.
  mainFields: ['module', 'main'],
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
};

rmSync(outdir, { recursive: true, force: true });
await Promise.all([
  build({
    ...common,
    entryPoints: [{ in: 'src/cli/main.ts', out: 'cib' }],
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    // The one module that asks where it is (src/host/deployment.ts) gets this file's address.
    define: { 'import.meta.url': '__cibModuleUrl' },
    banner: { js: "const __cibModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [dynamicBuiltinsByRequire],
  }),
  build({
    ...common,
    entryPoints: SERVER_ENTRIES,
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    splitting: true,
    format: 'esm',
    // CommonJS packages bundled into ES modules still call require() for Node's built-ins.
    banner: {
      js: "import { createRequire as __cibCreateRequire } from 'node:module'; const require = __cibCreateRequire(import.meta.url);",
    },
    plugins: [builtinsByRequire],
  }),
]);

// The command line's SHA-256 on its last line: bin/cib.cjs keeps V8's code cache only for the very
// bytes it was made from (an edited file of the same length would otherwise pass V8's own check).
const cib = resolve(outdir, 'cib.cjs');
const digest = createHash('sha256').update(readFileSync(cib)).digest('hex');
appendFileSync(cib, `// cib-build ${digest}\n`);
