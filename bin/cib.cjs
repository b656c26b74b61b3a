#!/usr/bin/env node
'use strict';
// The `cib` bin: the compiled command line (`npm run build:node`, run by `npm install` too), a
// CommonJS file so that nothing but Node's own start-up comes before the command.
//
// V8's code cache (README, "The command line's speed"): compiling dist-node/cib.cjs costs a short
// command more than its work, so the bytecode a successful command compiled is kept in the cache
// folder the kept base checks use (CIB_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache, then
// seattle-cib/base-checks; CIB_CACHE_DIR set to the empty string keeps nothing), one file per
// command, `cib-code-<command>.bin`, unless the run says it did first-time work that later runs
// will not (src/cli/code-cache.ts). Its first line names the compiled file's SHA-256 (its last
// line, written by scripts/build-node.mjs), size and time of change; a cache for other bytes, or
// one V8 refuses (another Node, other flags), is not used and is replaced after the run. Nothing
// else is written, and a folder that cannot be written only costs the next run its compile.
const { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script, constants } = require('node:vm');
// Not node:module (createRequire, wrap): loading it loads Node's ES module loader too. The bundle
// requires nothing but Node's built-ins, which this file's own require gives.
const wrap = (code) => `(function (exports, require, module, __filename, __dirname) { ${code}\n});`;

const compiled = join(__dirname, '..', 'dist-node', 'cib.cjs');
let source;
let stamp;
try {
  source = readFileSync(compiled, 'utf8');
  const stat = statSync(compiled, { bigint: true });
  const build = /\/\/ cib-build ([0-9a-f]{64})\n$/.exec(source.slice(-100))?.[1] ?? 'unknown';
  stamp = `cib-code 2 ${build} ${stat.size} ${stat.mtimeNs}\n`;
} catch {
  console.error('cib: the command line is not built yet; run `npm run build` in the project.');
  process.exit(1);
}

/** The folder `checksFolder` in src/cli/kept-checks.ts gives. */
const cacheFolder = (env) => {
  if (env.CIB_CACHE_DIR !== undefined) return env.CIB_CACHE_DIR || undefined;
  const base = env.XDG_CACHE_HOME || join(require('node:os').homedir(), '.cache');
  return join(base, 'seattle-cib', 'base-checks');
};

const word = process.argv[2];
const command =
  word === undefined || word === '--help' || word === '-h'
    ? 'help'
    : /^[a-z][a-z-]{0,31}$/.test(word)
      ? word
      : undefined;
const folder = command && cacheFolder(process.env);
const cacheFile = folder && join(folder, `cib-code-${command}.bin`);

let cachedData;
if (cacheFile) {
  try {
    const kept = readFileSync(cacheFile);
    const header = Buffer.from(stamp);
    if (kept.subarray(0, header.length).equals(header)) cachedData = kept.subarray(header.length);
  } catch {
    // None kept yet.
  }
}

const script = new Script(wrap(source), {
  filename: compiled,
  cachedData,
  // The bundle imports nothing dynamically (scripts/build-node.mjs); should it, Node's loader.
  importModuleDynamically: constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
if (cacheFile && (!cachedData || script.cachedDataRejected)) {
  process.once('exit', (code) => {
    // A run that did first-time work leaves the cache to the next (src/cli/code-cache.ts).
    if (code !== 0 || module_.exports.codeCacheHint?.keep === false) return;
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    try {
      mkdirSync(folder, { recursive: true });
      writeFileSync(temporary, Buffer.concat([Buffer.from(stamp), script.createCachedData()]), {
        flag: 'wx',
      });
      renameSync(temporary, cacheFile);
    } catch {
      rmSync(temporary, { force: true });
    }
  });
}

const module_ = { exports: {}, filename: compiled, id: compiled, loaded: false };
script
  .runInThisContext()
  .call(
    module_.exports,
    module_.exports,
    require,
    module_,
    compiled,
    join(__dirname, '..', 'dist-node'),
  );
