import { cliSuite } from './cli.ts';
import { hostileSuite } from './hostile.ts';
import { inspectSuite } from './inspect.ts';
import { keygenSuite } from './keygen.ts';
import { softwareSuite } from './software.ts';
import { tgzSuite } from './tgz.ts';
import { zipSuite } from './zip.ts';

/**
 * A benchmark suite returns flat figures (`<name>_ms` and the like) merged into results.json,
 * with goals as text beside them and whether each is met.
 */
export interface BenchSuite {
  name: string;
  run(): Promise<Record<string, number | string | boolean>>;
}

export const suites: BenchSuite[] = [
  keygenSuite,
  tgzSuite,
  zipSuite,
  softwareSuite,
  inspectSuite,
  hostileSuite,
  cliSuite,
];
