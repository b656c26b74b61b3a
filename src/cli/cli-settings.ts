/**
 * What every `cib` command that builds something needs: the deployment settings (environment,
 * overridable with `--reserved-share N` and `--reserved-key FILE`), JSON input files read with a
 * precise error position, and problems printed the same way everywhere.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './command.ts';
import { CibError, problem, type Problem } from '../core/problems.ts';
import { checkDeploymentSettings, type DeploymentSettings } from '../core/deployment-settings.ts';
import {
  knownUpdateKeys,
  parseUpdateKeys,
  softwareNotes,
  softwareVerdictLine,
  type KnownUpdateKey,
  type SoftwareReport,
} from '../core/software.ts';
import { settingsFromEnv, updateKeysFromEnv } from '../host/deployment.ts';
import { printErr } from './output.ts';

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
 * The deployment settings with the command-line overrides applied, checked once by the deployment
 * settings check (core/deployment-settings.ts), each problem naming what the person typed: the
 * option (`--reserved-share`, `--reserved-key FILE`) or the variable (`RESERVED_SHARE`, …). A
 * malformed number is a usage error (exit 2); an unreadable file or an invalid key or share is a
 * CibError (exit 1).
 */
export function cliSettings(
  values: { 'reserved-share'?: string; 'reserved-key'?: string },
  env: NodeJS.ProcessEnv = process.env,
): DeploymentSettings {
  const { input, names, problems } = settingsFromEnv(env);
  const share = values['reserved-share'];
  if (share !== undefined) {
    if (!/^[0-9]+$/.test(share)) {
      throw new UsageError(`--reserved-share takes a whole number of percent, not "${share}".`);
    }
    input.reservedShare = Number(share);
    names.reservedShare = '--reserved-share';
  }
  const keyFile = values['reserved-key'];
  if (keyFile !== undefined) {
    input.reservedKey = readTextFile(keyFile).trim();
    names.reservedKey = `--reserved-key ${keyFile}`;
    // The option replaces RESERVED_KEY_FILE: that file's problem no longer matters.
    const unused = problems.findIndex((p) => p.path === 'RESERVED_KEY_FILE');
    if (unused >= 0) problems.splice(unused, 1);
  }
  if (problems.length > 0) throw new CibError(problems);
  const checked = checkDeploymentSettings(input, names);
  if (!checked.settings) throw new CibError(checked.problems);
  return checked.settings;
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
 * (1-based), since JSON.parse in Node 20 does not always say where the mistake is; the parser that
 * finds it (json-errors.ts) is loaded only then.
 */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = readTextFile(file).replace(/^\uFEFF/, '');
  try {
    return JSON.parse(text);
  } catch (error) {
    const { findJsonError } = await import('./json-errors.ts');
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
    printErr(`${where ? `${where}: ` : ''}${tag}${p.message}`);
  }
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
  const fromEnv = updateKeysFromEnv(env);
  if (fromEnv.problems.length > 0) throw new CibError(fromEnv.problems);
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
  return knownUpdateKeys([...fromEnv.keys, ...fromFiles]);
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
