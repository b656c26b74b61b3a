import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PROJECT_ROOT } from '../src/host/deployment.ts';
import { suites } from './suites.ts';

// `npm run bench [suite…]`: runs every suite (or the named ones) and writes bench/results.json.
// Naming suites re-measures only those and keeps the other suites' figures from the last run.
// `npm run loadtest` and `npm run bench:browser` write their figures under `loadtest` and
// `browser`; they are always kept.
const wanted = process.argv.slice(2);
const out = resolve(PROJECT_ROOT, 'bench/results.json');
const previous: Record<string, unknown> = existsSync(out)
  ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>)
  : {};
const results: Record<string, unknown> = {
  ...(wanted.length ? previous : { loadtest: previous.loadtest, browser: previous.browser }),
  date: new Date().toISOString(),
  node: process.version,
};
for (const suite of suites) {
  if (wanted.length && !wanted.includes(suite.name)) continue;
  console.error(`bench: ${suite.name}…`);
  Object.assign(results, await suite.run());
}
mkdirSync(resolve(PROJECT_ROOT, 'bench'), { recursive: true });
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
