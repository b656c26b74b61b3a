/**
 * Every rule in the project reports through these types, so the page, the command line and the
 * XML-RPC shim show the same code, place and sentence for the same mistake.
 */
export type Severity = 'error' | 'warning';

export interface Problem {
  /** Stable machine-readable code, e.g. `vessel.owner.missing`. */
  code: string;
  /** Where the problem is: a field path (`vessels[0].owner`), `line 3`, or an archive entry. */
  path: string;
  /** A sentence a donor or an operator understands. */
  message: string;
  severity: Severity;
}

export function problem(
  code: string,
  path: string,
  message: string,
  severity: Severity = 'error',
): Problem {
  return { code, path, message, severity };
}

export function errorsOf(problems: readonly Problem[]): Problem[] {
  return problems.filter((p) => p.severity === 'error');
}

/** One line per problem: `path: message`. */
export function describeProblems(problems: readonly Problem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');
}

/** Thrown where a caller cannot go on; carries every problem found, not only the first. */
export class CibError extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem | Problem[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(describeProblems(list));
    this.name = 'CibError';
    this.problems = list;
  }
  get code(): string {
    return this.problems[0]?.code ?? 'unknown';
  }
}
