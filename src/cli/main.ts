import { CibError, describeProblems } from '../core/problems.ts';
import { UsageError } from './command.ts';
import { commands } from './commands/index.ts';
import { printErr, printOut } from './output.ts';

// Read by bin/cib.cjs after the run (code-cache.ts).
export { codeCacheHint } from './code-cache.ts';

function overview(): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  return [
    'Usage: cib <command> [options]   (cib <command> --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    printOut(overview());
    return name === undefined ? 2 : 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    printErr(`cib: unknown command "${name}".\n\n${overview()}`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    printOut(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      printErr(`cib ${name}: ${error.message}\n\n${command.help}`);
      return 2;
    }
    if (error instanceof CibError) {
      printErr(describeProblems(error.problems));
      return 1;
    }
    throw error;
  }
}

// No top-level await: the compiled command line is a CommonJS file (scripts/build-node.mjs).
void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
