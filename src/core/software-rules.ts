/**
 * The rules of the software check that follow Seattle's own packaging and updater
 * (docs/formats.md, "The software check"), kept apart from the walk that gathers the files
 * (src/core/software.ts) so each can change without the other:
 *
 * - which unlisted files under `seattle_repy/` are allowed (scripts the packaging adds after
 *   signing) and which are refused (anything a node could run as part of Seattle);
 * - where the node reads its update key: `softwareupdatepublickey` in `softwareupdater.py`, and,
 *   in the bases `cib make-base` writes, `softwareupdater.publickey` too.
 */
import { formatPublicKey, parsePublicKey } from './keys.ts';
import { errorsOf, problem, type Problem } from './problems.ts';

/** Where the program lives in every installer (case-folded, as `extractedPath` gives it). */
export const PROGRAM_PREFIX = 'seattle/seattle_repy/';
/** The file Seattle's updater embeds its key in, and the one `cib make-base` writes beside it. */
export const SOFTWAREUPDATER_FILE = 'softwareupdater.py';
export const UPDATE_KEY_FILE = 'softwareupdater.publickey';

/**
 * Names a node could load or run as part of Seattle: Python source, byte code and extension
 * modules (`.pyw` is a source suffix Python imports on Windows), Seattle's own Repy programs, and
 * native libraries. Compared case-insensitively, since macOS and Windows ignore case. An unlisted
 * file with one of these endings is refused: Seattle's packaging never ships unsigned code in
 * `seattle_repy/`, and a stray `sitecustomize.py` would run with the node.
 */
export const SEATTLE_CODE_EXTENSIONS = [
  '.py',
  '.pyw',
  '.pyc',
  '.pyo',
  '.pyd',
  '.so',
  '.dll',
  '.r2py',
  '.repy',
] as const;

/** Whether a file under `seattle_repy/` is code a node could run (see SEATTLE_CODE_EXTENSIONS). */
export function isSeattleCode(path: string): boolean {
  const name = path.toLowerCase();
  return SEATTLE_CODE_EXTENSIONS.some((extension) => name.endsWith(extension));
}

/**
 * Why an unlisted entry under `seattle_repy/` is refused, or undefined when it is allowed (a
 * regular file that is not code: an install script, `nodeman.cfg`, a README).
 */
export function unlistedRefusal(path: string, regular: boolean): string | undefined {
  if (!regular) {
    return 'This entry is not in the signed list and is not a regular file (a link or device): Seattle’s packaging writes only regular files there.';
  }
  if (!isSeattleCode(path)) return undefined;
  const hint = /\.py[co]$/i.test(path)
    ? ' Seattle’s packaging deletes *.pyc before it packages (final_files.fi); build the bases from a folder without them.'
    : '';
  return `This file is not in the signed list, and a node could run it as part of Seattle (${SEATTLE_CODE_EXTENSIONS.join(' ')}): Seattle’s packaging never ships unsigned code there.${hint}`;
}

const ASSIGNMENT = /^[ \t]*softwareupdatepublickey[ \t]*=(?!=)/;
/**
 * The one line Seattle writes (dist's rebuild scripts check for exactly this text, with the
 * operator's e and n): `softwareupdatepublickey = {'e':<e>, 'n':<n>}`, at the start of a line,
 * spaces or tabs allowed around the punctuation, an optional `# comment` after it.
 */
const SEATTLE_SHAPE =
  /^softwareupdatepublickey[ \t]*=[ \t]*\{[ \t]*'e'[ \t]*:[ \t]*([0-9]+)[ \t]*,[ \t]*'n'[ \t]*:[ \t]*([0-9]+)[ \t]*\}[ \t]*(?:#.*)?$/;

/**
 * The update key a node reads from `softwareupdater.py`: the dict literal assigned to
 * `softwareupdatepublickey`, read strictly. Exactly one assignment, at the start of a line, in the
 * shape Seattle writes; anything else (no assignment, several, an expression, other quoting) is a
 * problem naming the line, since the key that decides who may update the machine must not be a
 * guess.
 */
export function readSoftwareUpdaterKey(
  text: string,
  where = PROGRAM_PREFIX + SOFTWAREUPDATER_FILE,
): { key?: string; problems: Problem[] } {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  const assigned = lines.flatMap((line, i) => (ASSIGNMENT.test(line) ? [i + 1] : []));
  if (assigned.length === 0) {
    return {
      problems: [
        problem(
          'software.update-key.unreadable',
          where,
          'softwareupdater.py does not set softwareupdatepublickey, so nothing says which key the node trusts for updates.',
        ),
      ],
    };
  }
  if (assigned.length > 1) {
    return {
      problems: [
        problem(
          'software.update-key.unreadable',
          `${where}: line ${assigned[1]}`,
          `softwareupdatepublickey is assigned on ${assigned.length} lines (${assigned.join(', ')}); Seattle writes it once, and the key the node trusts must be unambiguous.`,
        ),
      ],
    };
  }
  const number = assigned[0]!;
  const match = SEATTLE_SHAPE.exec(lines[number - 1]!);
  if (!match) {
    return {
      problems: [
        problem(
          'software.update-key.unreadable',
          `${where}: line ${number}`,
          "softwareupdatepublickey is not written as Seattle writes it: softwareupdatepublickey = {'e':<decimal>, 'n':<decimal>} on one line, at its start.",
        ),
      ],
    };
  }
  const parsed = parsePublicKey(`${match[1]} ${match[2]}`, `${where}: line ${number}`);
  const errors = errorsOf(parsed.problems);
  if (!parsed.key || errors.length > 0) {
    return {
      problems: errors.map((p) => ({ ...p, code: 'software.update-key.unreadable' })),
    };
  }
  return { key: formatPublicKey(parsed.key), problems: [] };
}

/**
 * The update key the installed node trusts: `softwareupdatepublickey` in `softwareupdater.py`
 * where the installer has that file (Seattle's bases), else `softwareupdater.publickey` (bases
 * of `cib make-base` without it). Where both exist they must agree. Neither is a problem: nothing
 * would say who may update the machine.
 */
export function nodeUpdateKey(files: { updater?: string; publicKeyFile?: string }): {
  key?: string;
  problems: Problem[];
} {
  const fromUpdater =
    files.updater === undefined ? undefined : readSoftwareUpdaterKey(files.updater);
  let fromFile: string | undefined;
  const problems: Problem[] = [...(fromUpdater?.problems ?? [])];
  if (files.publicKeyFile !== undefined) {
    const parsed = parsePublicKey(files.publicKeyFile, PROGRAM_PREFIX + UPDATE_KEY_FILE);
    const errors = errorsOf(parsed.problems);
    if (parsed.key && errors.length === 0) fromFile = formatPublicKey(parsed.key);
    else
      problems.push(
        problem(
          'software.update-key.unreadable',
          PROGRAM_PREFIX + UPDATE_KEY_FILE,
          `softwareupdater.publickey is not a public key "e n": ${errors[0]?.message ?? 'it cannot be read'}`,
        ),
      );
  }
  if (files.updater === undefined && files.publicKeyFile === undefined) {
    problems.push(
      problem(
        'software.update-key.missing',
        PROGRAM_PREFIX + SOFTWAREUPDATER_FILE,
        'The installer carries neither softwareupdater.py nor softwareupdater.publickey, so nothing says which key its node trusts for updates.',
      ),
    );
  }
  if (problems.length > 0) return { problems };
  if (fromUpdater?.key !== undefined && fromFile !== undefined && fromUpdater.key !== fromFile) {
    return {
      problems: [
        problem(
          'software.update-key.disagree',
          PROGRAM_PREFIX + UPDATE_KEY_FILE,
          'softwareupdater.publickey names another key than softwareupdatepublickey in softwareupdater.py, which the node uses.',
        ),
      ],
    };
  }
  return { key: fromUpdater?.key ?? fromFile, problems: [] };
}
