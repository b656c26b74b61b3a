#!/usr/bin/env node
// The `cib` bin: the compiled command line (`npm run build:node`, run by `npm install` too).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist-node/cib.mjs', import.meta.url);
if (!existsSync(compiled)) {
  console.error('cib: the command line is not built yet; run `npm run build` in the project.');
  process.exit(1);
}
await import(compiled.href);
