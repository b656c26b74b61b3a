/**
 * The shape in which any installer's entries are handed to the checks that read them (the
 * vesselinfo lookup of inspect and customize, the software check against the signed metainfo).
 */
import type { EntryNameStyle } from './paths.ts';

export type ArchiveEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface ArchiveEntry {
  /** The name exactly as stored in the archive. */
  name: string;
  /** `extractedPath(name, style)`: where an extractor writes it, case-folded. */
  path: string;
  /**
   * Where every extractor writes it, case kept (`profilePath`: tar's leading `./` and a folder's
   * trailing `/` dropped); `''` for a tar's root folder entry `./`.
   */
  exactPath: string;
  style: EntryNameStyle;
  type: ArchiveEntryType;
  /** The size the archive declares for the entry's data, in bytes. */
  size: number;
  /** Unix permission bits where the archive records them. */
  mode?: number;
  /** Link target for symlinks and hard links. */
  linkName?: string;
  /** tgz only: offset in the tar stream of the entry's first header (pax or long-name included). */
  offset?: number;
}

/**
 * A consumer of entries. `wantsData` is asked per regular file; only entries it wants have their
 * data inflated and passed to `onEntry`, so a walk that needs little reads little. `done`, asked
 * after each entry, ends the walk early once the visitor knows its answer.
 */
export interface EntryVisitor {
  wantsData(entry: ArchiveEntry): boolean;
  onEntry(entry: ArchiveEntry, data?: Uint8Array): void;
  done?(): boolean;
}
