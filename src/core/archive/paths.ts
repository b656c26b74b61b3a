/**
 * One view of an archive's entry names: the path an extractor would write, so that inspect and
 * customize agree with what `tar -x` and `unzip` leave on the donor's disk (docs/formats.md,
 * "Entry paths").
 */

export type EntryNameStyle = 'tar' | 'zip';

/**
 * The path an entry lands at, relative to the extraction folder, case-folded: `.` and empty
 * components and a leading `/` are dropped (GNU tar and unzip strip them), and in zip `\` also
 * separates components (unzip converts it on Unix, Windows extractors always do). Case is folded
 * because macOS and Windows file systems ignore it. `..` is kept, so such a path never equals one
 * inside the archive's folder.
 */
export function extractedPath(name: string, style: EntryNameStyle): string {
  const separators = style === 'zip' ? /[\\/]+/ : /\/+/;
  return name
    .split(separators)
    .filter((part) => part !== '' && part !== '.')
    .join('/')
    .toLowerCase();
}

/** Whether two entry names land on the same file once extracted. */
export function sameExtractedPath(a: string, b: string, style: EntryNameStyle): boolean {
  return extractedPath(a, style) === extractedPath(b, style);
}
