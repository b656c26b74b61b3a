import { expect } from 'vitest';

/**
 * What `run` throws. The test fails, naming `what`, when `run` returns instead: a check written as
 * a bare try/catch would pass then.
 */
export function thrownBy(run: () => unknown, what = 'a throw'): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return expect.unreachable(`expected ${what}, but it returned`);
}
