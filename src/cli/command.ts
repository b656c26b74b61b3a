import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad command-line words: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Command {
  /** Full help text printed by `cib <name> --help`. */
  help: string;
  /** Returns the exit code: 0 success, 1 invalid input. Throws UsageError for bad words. */
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs gives for `options` plus `--help` (spelled out: the declarations name it). */
type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{
    args: string[];
    options: O & { help: { type: 'boolean'; short: 'h' } };
    allowPositionals: boolean;
    strict: true;
  }>
>;

/** parseArgs with `--help` added and its errors turned into UsageError. */
export function parseCommandArgs<O extends Options>(
  argv: string[],
  options: O,
  allowPositionals = false,
): ParsedArgs<O> {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function requireOption(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required.`);
  return value;
}
