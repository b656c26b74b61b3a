/**
 * The strict archive profile (docs/formats.md, "Strict archive profile"): the archive features on
 * which every common extractor agrees. The readers (TarScanner, the zip central-directory reader,
 * the exe check) accept only archives inside it and refuse everything else with a problem coded
 * `base.profile.*` that names the entry and the rule in plain words. This module holds what every
 * format shares: the entry names, and the rules across entries (no two entries, or an entry and a
 * folder some other entry implies, that land on one file of a case-insensitive or
 * normalising file system).
 */
import { CibError, problem, type Problem } from '../problems.ts';
import type { EntryNameStyle } from './paths.ts';

/**
 * Files and folders (implied ones included): no Seattle installer comes near it, and it bounds
 * the memory and time of the checks across entries.
 */
export const MAX_ENTRIES = 10_000;
/**
 * Windows without long paths stops at 260 characters, the extraction folder included; Seattle's
 * own paths are well under 100.
 */
export const MAX_NAME_BYTES = 240;

export const PROFILE_SECTION = 'docs/formats.md, "Strict archive profile"';

/** An entry name as a person can read it, control characters escaped. */
export function showName(name: string): string {
  return JSON.stringify(name);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/gu;

/** A name fit for a terminal: control characters written as `\uXXXX`. */
export function printableName(name: string): string {
  return name.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A problem of the profile: `rule` becomes `base.profile.<rule>`, `entry` the problem's path. */
export function profileProblem(rule: string, entry: string, message: string): Problem {
  return problem(`base.profile.${rule}`, printableName(entry), message);
}

export function profileError(rule: string, entry: string, message: string): CibError {
  return new CibError(profileProblem(rule, entry, message));
}

/** Whether a problem says the archive is outside the profile. */
export function isProfileProblem(p: Problem): boolean {
  return p.code.startsWith('base.profile.');
}

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 or returns undefined: names that are not UTF-8 mean different things to different extractors. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Characters refused anywhere in a name: C0 and C1 controls and DEL (NUL ends a name early for C
 * programs), `\` (a separator on Windows and to unzip), the characters Windows forbids (`:` also
 * opens an alternate data stream), the code points macOS's HFS+ ignores when comparing names, and
 * U+FFFD, the mark of a name that was not UTF-8.
 */
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\\<>:"|?*\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufffd]/u;
/** Windows opens these devices whatever the extension: `nul.txt` is NUL. */
const DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/iu;
/** An 8.3 short name: on Windows `SOFTWA~1.PY` may be another file's second name. */
const SHORT_NAME_ALIAS = /~[0-9]/u;
/**
 * Every name that may break a component rule matches: an empty, `.` or `..` component, a component
 * ending in a dot or a space, `~` and a digit, or a component starting like a Windows device.
 */
const SUSPECT = /(^|\/)\.{0,2}(\/|$)|[. ](\/|$)|~[0-9]|(^|\/)(con|prn|aux|nul|com|lpt)/iu;

function nameProblem(name: string, message: string): CibError {
  return profileError('name', name, `The entry ${showName(name)} ${message} (${PROFILE_SECTION}).`);
}

/** ASCII: names made only of it need no Unicode normalising or folding. */
// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/u;

/** Why one path component is refused, or undefined. */
function componentFault(part: string): string | undefined {
  if (part === '') return 'has an empty path component (a doubled or leading slash)';
  if (part === '.' || part === '..') return `has a "${part}" path component`;
  const bad = FORBIDDEN.exec(part);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return bad[0] === '\\'
      ? 'holds a backslash, a folder separator on Windows'
      : `holds the character U+${code}, which extractors or file systems treat differently`;
  }
  if (/[. ]$/u.test(part))
    return 'has a path component ending in a dot or a space, which Windows drops';
  if (DEVICE.test(part.split('.')[0]!.trimEnd())) return 'names a Windows device (CON, NUL, COM1…)';
  if (SHORT_NAME_ALIAS.test(part))
    return 'holds "~" and a digit, the form of a Windows short name that may be another file';
  return undefined;
}

/**
 * The path an entry of the profile extracts to, exactly (case kept): tar's one leading `./` and a
 * folder's trailing `/` dropped. `''` is the archive's root folder (`./`). Throws the profile's
 * problem for any name outside it: absolute, `..`, `.` or empty components, forbidden characters.
 */
export function profilePath(name: string, style: EntryNameStyle, directory: boolean): string {
  let path = name;
  if (style === 'tar' && (path === '.' || path === './')) {
    if (!directory)
      throw nameProblem(name, 'names the extraction folder itself but is not a folder');
    return '';
  }
  if (style === 'tar' && path.startsWith('./')) path = path.slice(2);
  if (path.endsWith('/')) {
    if (!directory) throw nameProblem(name, 'ends in "/" but is not a folder');
    path = path.slice(0, -1);
  } else if (directory && style === 'zip') {
    throw nameProblem(name, 'is a folder whose name does not end in "/"');
  }
  if (path === '') throw nameProblem(name, 'has an empty name');
  if (path.startsWith('/')) throw nameProblem(name, 'is an absolute path');
  const ascii = ASCII.test(path);
  if ((ascii ? path.length : encoder.encode(path).length) > MAX_NAME_BYTES)
    throw nameProblem(name, `is longer than ${MAX_NAME_BYTES} bytes`);
  if (!ascii && path.normalize('NFC') !== path) {
    throw nameProblem(
      name,
      'is not in Unicode normalization form C: bsdtar rewrites such names, macOS stores them decomposed',
    );
  }
  // One pass over the whole name finds every name that might break a rule; only those are taken
  // apart component by component, to say which rule.
  if (FORBIDDEN.test(path) || SUSPECT.test(path)) {
    for (const part of path.split('/')) {
      const fault = componentFault(part);
      if (fault) throw nameProblem(name, fault);
    }
  }
  return path;
}

/**
 * The key two names share when a case-insensitive or normalising file system (macOS, Windows)
 * makes them one file: Unicode NFC (macOS stores decomposed names), then a case mapping wider than
 * Windows' (`ß` and `ss` share a key too: refusing more is safe).
 */
export function foldedKey(path: string): string {
  if (ASCII.test(path)) return path.toLowerCase();
  return path.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

interface Seen {
  /** The path exactly as it first appeared. */
  spelling: string;
  /** The entry's name as stored, for messages. */
  entry: string;
  kind: 'file' | 'directory' | 'implied';
}

/**
 * The profile's rules across entries: every path unique under case folding and Unicode
 * normalisation, files and folders alike, and no file that another entry's path runs through.
 * A folder may be implied by the entries inside it; an explicit entry for it may come before or
 * after them, once, spelt the same.
 */
export class ProfileNames {
  private readonly seen = new Map<string, Seen>();
  private count = 0;

  constructor(private readonly style: EntryNameStyle) {}

  /** Checks the next entry; returns its exact path (`''` for tar's root folder entry). */
  add(name: string, kind: 'file' | 'directory'): string {
    this.count++;
    this.checkCount(name);
    const path = profilePath(name, this.style, kind === 'directory');
    if (path === '') return path;
    this.folders(path, name);
    const key = foldedKey(path);
    const before = this.seen.get(key);
    if (!before) {
      this.seen.set(key, { spelling: path, entry: name, kind });
      return path;
    }
    if (kind === 'directory' && before.kind === 'implied' && before.spelling === path) {
      before.kind = 'directory';
      before.entry = name;
      this.count--; // counted already, when implied
      return path;
    }
    throw this.clash(name, path, kind, before);
  }

  private checkCount(name: string): void {
    if (this.count > MAX_ENTRIES) {
      throw profileError(
        'entries',
        name,
        `The archive holds more than ${MAX_ENTRIES} files and folders; no installer has that many (${PROFILE_SECTION}).`,
      );
    }
  }

  /**
   * The folders `path` runs through, deepest first, up to the first one already known: its own
   * were checked when it was added, so each folder costs its checks once.
   */
  private folders(path: string, name: string): void {
    const added: [string, string][] = [];
    for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
      const folder = path.slice(0, slash);
      const key = foldedKey(folder);
      const before = this.seen.get(key);
      if (!before) {
        added.push([key, folder]);
        continue;
      }
      if (before.kind === 'file') {
        throw profileError(
          'file-and-folder',
          name,
          `The entry ${showName(name)} puts a file inside ${showName(folder)}, which the entry ` +
            `${showName(before.entry)} makes a file: extractors would fail or follow something else ` +
            `(${PROFILE_SECTION}).`,
        );
      }
      if (before.spelling !== folder) throw this.caseClash(name, folder, before);
      break;
    }
    for (const [key, folder] of added) {
      this.count++;
      this.checkCount(name);
      this.seen.set(key, { spelling: folder, entry: name, kind: 'implied' });
    }
  }

  private clash(name: string, path: string, kind: Seen['kind'], before: Seen): CibError {
    if (before.spelling !== path) return this.caseClash(name, path, before);
    if (before.kind === 'implied') {
      return profileError(
        'file-and-folder',
        name,
        `The entry ${showName(name)} is a file, but the earlier entry ${showName(before.entry)} ` +
          `puts files inside ${showName(path)} (${PROFILE_SECTION}).`,
      );
    }
    return profileError(
      'duplicate',
      name,
      `The entry ${showName(name)} extracts to ${showName(path)} like the earlier entry ` +
        `${showName(before.entry)}${kind !== before.kind ? ' (one a file, one a folder)' : ''}: ` +
        `extractors keep one or the other, or fail (${PROFILE_SECTION}).`,
    );
  }

  private caseClash(name: string, path: string, before: Seen): CibError {
    return profileError(
      'case',
      name,
      `The entry ${showName(name)} extracts to ${showName(path)}, which differs from ` +
        `${showName(before.spelling)} (from ${showName(before.entry)}) only in case or Unicode ` +
        `normalisation: one file on macOS and Windows, two on Linux (${PROFILE_SECTION}).`,
    );
  }
}
