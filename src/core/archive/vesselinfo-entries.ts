/**
 * Which entries of an archive land on `seattle/seattle_repy/vesselinfo` once extracted, and
 * whether that makes the installer ambiguous: more than one such entry, or one that is not a
 * regular file, means what inspect reads need not be what the node gets (README, "Security and
 * limits").
 */
import { CibError, problem, type Problem } from '../problems.ts';
import type { ArchiveEntry, EntryVisitor } from './entries.ts';

export const VESSELINFO_PATH = 'seattle/seattle_repy/vesselinfo';

const TYPE_WORDS: Record<ArchiveEntry['type'], string> = {
  file: 'a regular file',
  directory: 'a directory',
  symlink: 'a symbolic link',
  hardlink: 'a hard link',
  other: 'a special file',
};

function describe(entry: ArchiveEntry): string {
  const link = entry.linkName !== undefined ? ` to "${entry.linkName}"` : '';
  return `${TYPE_WORDS[entry.type]}${link}`;
}

/** Collects the vesselinfo entries; with `readData`, the first one's bytes too. */
export class VesselinfoFinder implements EntryVisitor {
  readonly matches: ArchiveEntry[] = [];
  data: Uint8Array | undefined;

  constructor(private readonly readData: boolean) {}

  wantsData(entry: ArchiveEntry): boolean {
    return this.readData && entry.path === VESSELINFO_PATH && this.matches.length === 0;
  }

  onEntry(entry: ArchiveEntry, data?: Uint8Array): void {
    if (entry.path !== VESSELINFO_PATH) return;
    this.matches.push(entry);
    if (this.readData && data && this.matches.length === 1) this.data = data.slice();
  }

  /** Once the installer is known to be ambiguous, no later entry changes the answer. */
  done(): boolean {
    return this.ambiguous;
  }

  get ambiguous(): boolean {
    return this.matches.length > 1 || this.matches.some((m) => m.type !== 'file');
  }

  /** One problem per entry, each naming it as stored, so the person can find them all. */
  problems(): Problem[] {
    if (!this.ambiguous) return [];
    const count = this.matches.length;
    return this.matches.map((entry, i) =>
      problem(
        'base.vesselinfo.ambiguous',
        entry.name,
        // The message names the entry too: the page lists messages without their paths.
        count > 1
          ? `The entry "${entry.name}" (${describe(entry)}) is ${i + 1} of ${count} ` +
              `that extract to ${VESSELINFO_PATH}: tar and unzip would leave only one of them, ` +
              'so what the node reads cannot be told.'
          : `The entry "${entry.name}" extracts to ${VESSELINFO_PATH} but is ` +
              `${describe(entry)}, not a regular file.`,
      ),
    );
  }

  /** Refuses an ambiguous base: customising it would leave two vesselinfo entries, or a link. */
  assertUnambiguous(): void {
    if (this.ambiguous) throw new CibError(this.problems());
  }
}
