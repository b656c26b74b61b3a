import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../src/node/deployment.ts';
import { suites } from './suites.ts';

// `npm run bench [suite…]`: runs every suite (or the named ones) and writes bench/results.json.
const wanted = process.argv.slice(2);
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  node: process.version,
};
for (const suite of suites) {
  if (wanted.length && !wanted.includes(suite.name)) continue;
  console.error(`bench: ${suite.name}…`);
  Object.assign(results, await suite.run());
}
const out = resolve(PROJECT_ROOT, 'bench/results.json');
mkdirSync(resolve(PROJECT_ROOT, 'bench'), { recursive: true });
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
