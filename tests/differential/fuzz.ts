/**
 * `npm run fuzz -- --cases N [--seed S] [--batch B] [--jobs J]`: the differential test of the strict
 * archive profile at length (tests/differential/harness.ts). Every archive our reader accepts must
 * be extracted identically by every extractor; each one that is not is saved, with what differed,
 * under tests/fixtures/differential/ (which `npm test` replays), and the run exits 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, runBatch, summarize, type Outcome } from './harness.ts';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    batch: { type: 'string', default: '250' },
    jobs: { type: 'string', default: '2' },
  },
});
const total = Number(values.cases);
const seed = Number(values.seed);
const batch = Number(values.batch);
const jobs = Number(values.jobs);
if (
  ![total, seed, batch, jobs].every((n) => Number.isSafeInteger(n) && n >= 0) ||
  batch < 1 ||
  jobs < 1
) {
  console.error('Usage: npm run fuzz -- --cases N [--seed S] [--batch B] [--jobs J]');
  process.exit(2);
}

const started = Date.now();
const batches = Math.ceil(total / batch);
const outcomes: Outcome[] = [];
let next = 0;
let done = 0;
async function worker(): Promise<void> {
  while (next < batches) {
    const index = next++;
    const count = Math.min(batch, total - index * batch);
    const result = await runBatch({ seed: seed + index, count, fixed: index === 0 });
    outcomes.push(...result);
    done += count;
    const bad = result.filter((o) => o.verdict === 'disagreed').length;
    console.error(
      `fuzz: batch seed ${seed + index}: ${count} cases, ${bad} disagreements (${done}/${total}, ${Math.round((Date.now() - started) / 1000)} s)`,
    );
  }
}
await Promise.all(Array.from({ length: Math.min(jobs, batches) }, worker));

const disagreed = outcomes.filter((o) => o.verdict === 'disagreed');
if (disagreed.length) {
  const folder = join(ROOT, 'tests/fixtures/differential');
  mkdirSync(folder, { recursive: true });
  for (const o of disagreed) {
    const name = `${o.family}-${o.id}.${o.kind}`;
    writeFileSync(join(folder, name), o.bytes);
    writeFileSync(
      join(folder, `${name}.json`),
      JSON.stringify(
        { id: o.id, family: o.family, kind: o.kind, note: o.note, differences: o.differences },
        null,
        2,
      ) + '\n',
    );
    console.error(
      `DISAGREEMENT ${name} (${o.note}):\n  ${Object.entries(o.differences ?? {})
        .map(([k, v]) => `${k}: ${v.slice(0, 5).join('; ')}`)
        .join('\n  ')}`,
    );
  }
}
const refusals: Record<string, number> = {};
for (const o of outcomes) if (o.refusal) refusals[o.refusal] = (refusals[o.refusal] ?? 0) + 1;
console.log(
  JSON.stringify(
    {
      cases: outcomes.length,
      seed,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      byFamily: summarize(outcomes),
      refusals,
      disagreements: disagreed.map((o) => `${o.family}-${o.id}.${o.kind}`),
    },
    null,
    2,
  ),
);
process.exit(disagreed.length ? 1 : 0);
