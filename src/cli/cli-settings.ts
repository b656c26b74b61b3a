/**
 * What every `cib` command that builds something needs: the deployment settings (environment,
 * overridable with `--reserved-share N` and `--reserved-key FILE`), JSON input files read with a
 * precise error position, and problems printed the same way everywhere.
 */
import { readFileSync } from 'node:fs';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { UsageError } from './command.ts';
import { validateSettings } from '../core/build-config.ts';
import { CibError, problem, type Problem } from '../core/problems.ts';
import type { DeploymentSettings } from '../core/deployment-settings.ts';
import {
  knownUpdateKeys,
  parseUpdateKeys,
  softwareNotes,
  softwareVerdictLine,
  type KnownUpdateKey,
  type SoftwareReport,
} from '../core/software.ts';
import { loadDeploymentSettings, loadUpdateKeys } from '../host/deployment.ts';

/** Spread into a command's parseCommandArgs options. */
export const settingsOptions = {
  'reserved-share': { type: 'string' },
  'reserved-key': { type: 'string' },
} as const;

/** Lines for a command's --help. */
export const SETTINGS_HELP = `  --reserved-share N    share of the reserved vessel in percent (default RESERVED_SHARE or 20)
  --reserved-key FILE   file holding the reserved vessel's public key "e n"
                        (default RESERVED_KEY, RESERVED_KEY_FILE or the Seattle reserved key)`;

/**
 * The deployment settings with the command-line overrides applied and checked. A malformed
 * number is a usage error (exit 2); an unreadable file or an invalid key or share is a CibError
 * (exit 1) naming the setting.
 */
export function cliSettings(
  values: { 'reserved-share'?: string; 'reserved-key'?: string },
  env: NodeJS.ProcessEnv = process.env,
): DeploymentSettings {
  let settings: DeploymentSettings;
  try {
    settings = loadDeploymentSettings(env);
  } catch (error) {
    throw new CibError(problem('settings.environment', 'environment', (error as Error).message));
  }
  const share = values['reserved-share'];
  if (share !== undefined) {
    if (!/^[0-9]+$/.test(share)) {
      throw new UsageError(`--reserved-share takes a whole number of percent, not "${share}".`);
    }
    settings = { ...settings, reservedShare: Number(share) };
  }
  const keyFile = values['reserved-key'];
  if (keyFile !== undefined) {
    settings = { ...settings, reservedKey: readTextFile(keyFile).trim() };
  }
  const problems = validateSettings(settings);
  if (problems.length > 0) throw new CibError(problems);
  return settings;
}

/** A file's text, or a CibError naming the file (exit 1). */
export function readTextFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'it does not exist'
        : (error as Error).message;
    throw new CibError(problem('cli.file.read', file, `Cannot read the file: ${reason}.`));
  }
}

/**
 * Parses a JSON file. On a syntax error throws a CibError whose path is `FILE:LINE:COLUMN`
 * (1-based), since JSON.parse in Node 20 does not always say where the mistake is.
 */
export function readJsonFile(file: string): unknown {
  const text = readTextFile(file).replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (error) {
    const found = findJsonError(text) ?? { offset: 0, expected: (error as Error).message };
    const before = text.slice(0, found.offset).split('\n');
    const line = before.length;
    const column = (before.at(-1)?.length ?? 0) + 1;
    const at =
      found.offset < text.length
        ? `found ${JSON.stringify(text[found.offset])}`
        : 'found the end of the file';
    throw new CibError(
      problem(
        'cli.json.syntax',
        `${file}:${line}:${column}`,
        `This is not valid JSON: expected ${found.expected}, ${at}.`,
      ),
    );
  }
}

/** Prints problems on stderr, one per line, warnings marked, each prefixed by `prefix: `. */
export function printProblems(problems: readonly Problem[], prefix = ''): void {
  for (const p of problems) {
    const where = [prefix, p.path].filter(Boolean).join(': ');
    const tag = p.severity === 'warning' ? 'warning: ' : '';
    console.error(`${where ? `${where}: ` : ''}${tag}${p.message}`);
  }
}

// Keyed by jsonc-parser's error names (its codes are a const enum, which isolated modules cannot read).
const JSON_ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: 'a value',
  InvalidNumberFormat: 'a number such as 12 or 0.5',
  PropertyNameExpected: 'a member name in double quotes',
  ValueExpected: 'a value',
  ColonExpected: '":"',
  CommaExpected: '","',
  CloseBraceExpected: '"," or "}"',
  CloseBracketExpected: '"," or "]"',
  EndOfFileExpected: 'the end of the file',
  InvalidCommentToken: 'no comment (JSON has none)',
  UnexpectedEndOfComment: 'no comment (JSON has none)',
  UnexpectedEndOfString: "a closing '\"'",
  UnexpectedEndOfNumber: 'a digit',
  InvalidUnicode: 'a \\u escape with four hex digits',
  InvalidEscapeCharacter: 'an escape such as \\n or \\"',
  InvalidCharacter: 'a character (control characters must be escaped)',
};

/**
 * Where the first JSON syntax error is, found by Microsoft's jsonc-parser in strict mode (no
 * comments, no trailing commas), or undefined when it finds none.
 */
export function findJsonError(text: string): { offset: number; expected: string } | undefined {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  if (!first) return undefined;
  return {
    offset: first.offset,
    expected:
      JSON_ERROR_WORDS[printParseErrorCode(first.error)] ?? printParseErrorCode(first.error),
  };
}

/** Spread into the options of commands that check a base's software. */
export const updateKeyOptions = {
  'update-key': { type: 'string', multiple: true },
} as const;

export const UPDATE_KEY_HELP = `  --update-key FILE     trust this software-update public key "e n" too (repeatable), besides
                        the Seattle update key and UPDATE_KEYS / UPDATE_KEYS_FILE; the demo
                        update key is trusted only for a base whose folder's manifest.json lists
                        it and only demo-signed bases (no option can trust it)`;

/** The Seattle update key, the environment's UPDATE_KEYS and every --update-key FILE. */
export function cliUpdateKeys(
  values: { 'update-key'?: string[] },
  env: NodeJS.ProcessEnv = process.env,
): KnownUpdateKey[] {
  let fromEnv: KnownUpdateKey[];
  try {
    fromEnv = loadUpdateKeys(env);
  } catch (error) {
    throw new CibError(problem('settings.environment', 'environment', (error as Error).message));
  }
  const fromFiles = (values['update-key'] ?? []).flatMap((file) => {
    const { keys, problems } = parseUpdateKeys(readTextFile(file), file);
    if (problems.length > 0) throw new CibError(problems);
    if (keys.length === 0)
      throw new CibError(problem('cli.update-key.empty', file, 'The file holds no public key.'));
    return keys.map((k) => ({
      ...k,
      label: k.label === 'an update key this deployment trusts' ? `the key in ${file}` : k.label,
    }));
  });
  return knownUpdateKeys([...fromEnv, ...fromFiles]);
}

/** The software section of inspect and prepare-base: the verdict line, its notes, then the files. */
export function printSoftware(report: SoftwareReport | undefined, log = console.log): void {
  if (!report) {
    log(
      'Software: not checked (the GUI executable packs the program in a form cib does not read).',
    );
    return;
  }
  log(`Software: ${softwareVerdictLine(report)}`);
  for (const note of softwareNotes(report)) log(`  note: ${note.text}`);
  for (const path of report.modified) log(`  modified  seattle/seattle_repy/${path}`);
  for (const path of report.unlisted) log(`  unlisted  seattle/seattle_repy/${path}`);
  for (const path of report.missing) log(`  left out  seattle/seattle_repy/${path}`);
  for (const f of report.unsigned) log(`  unsigned  ${f.path}  sha256 ${f.sha256}`);
}
