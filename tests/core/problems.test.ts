import { describe, expect, it } from 'vitest';
import { CibError, describeProblems, errorsOf, problem } from '../../src/core/problems.ts';

describe('problems', () => {
  it('describes each problem on its own line with its place first', () => {
    const list = [
      problem('a.b', 'vessels[0].owner', 'is missing.'),
      problem('c', '', 'Whole thing.'),
    ];
    expect(describeProblems(list)).toBe('vessels[0].owner: is missing.\nWhole thing.');
  });

  it('keeps warnings out of the errors', () => {
    const list = [problem('key.weak', 'x', 'weak', 'warning'), problem('key.bad', 'y', 'bad')];
    expect(errorsOf(list).map((p) => p.code)).toEqual(['key.bad']);
  });

  it('carries every problem and the first code when thrown', () => {
    const error = new CibError([problem('first', 'p', 'one'), problem('second', 'q', 'two')]);
    expect(error.code).toBe('first');
    expect(error.problems).toHaveLength(2);
    expect(error.message).toBe('p: one\nq: two');
  });
});
