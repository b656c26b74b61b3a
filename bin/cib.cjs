#!/usr/bin/env node
'use strict';
// The `cib` bin: the compiled command line (`npm run build:node`, run by `npm install` too), a
// CommonJS file so that nothing but Node's own start-up comes before the command.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const compiled = join(__dirname, '..', 'dist-node', 'cib.cjs');
if (!existsSync(compiled)) {
  console.error('cib: the command line is not built yet; run `npm run build` in the project.');
  process.exit(1);
}
require(compiled);
