/**
 * A small adapter feeding an EntryVisitor from the existing whole-archive readers, until the
 * bounded streaming walker replaces it; `checkInstallerSoftware` is the one call sites use.
 */
import { SoftwareCheck, type SoftwareCheckOptions, type SoftwareReport } from '../software.ts';
import type { ArchiveEntry, ArchiveEntryType, EntryVisitor } from './entries.ts';
import { resolveFormat, type ArchiveFormat } from './index.ts';
import { extractedPath } from './paths.ts';
import { readTgzEntries } from './tgz.ts';
import { zipEntryReaders } from './zip.ts';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;

function tarType(type: string): ArchiveEntryType {
  if (type === 'file') return 'file';
  if (type === 'directory') return 'directory';
  if (type === 'symlink') return 'symlink';
  if (type === 'link') return 'hardlink';
  return 'other';
}

/** Walks a tgz or zip installer's entries into `visitor`, in archive order. */
export async function visitArchive(
  bytes: Uint8Array,
  format: 'tgz' | 'zip',
  visitor: EntryVisitor,
): Promise<void> {
  if (format === 'tgz') {
    for (const e of await readTgzEntries(bytes)) {
      const entry: ArchiveEntry = {
        name: e.path,
        path: extractedPath(e.path, 'tar'),
        style: 'tar',
        type: tarType(e.type),
        size: e.size,
        mode: e.mode,
        ...(e.linkname ? { linkName: e.linkname } : {}),
      };
      const wanted = entry.type === 'file' && visitor.wantsData(entry);
      visitor.onEntry(entry, wanted ? (e.data ?? new Uint8Array(0)) : undefined);
    }
    return;
  }
  for (const { entry: z, read } of zipEntryReaders(bytes)) {
    const kind = z.unixMode !== undefined ? z.unixMode & S_IFMT : S_IFREG;
    const type: ArchiveEntryType = z.isDirectory
      ? 'directory'
      : kind === S_IFLNK
        ? 'symlink'
        : kind === S_IFREG || kind === 0
          ? 'file'
          : 'other';
    const entry: ArchiveEntry = {
      name: z.name,
      path: extractedPath(z.name, 'zip'),
      style: 'zip',
      type,
      size: z.uncompressedSize,
      ...(z.unixMode !== undefined ? { mode: z.unixMode & 0o7777 } : {}),
    };
    visitor.onEntry(entry, type === 'file' && visitor.wantsData(entry) ? read() : undefined);
  }
}

/**
 * The software report for any installer or base, or undefined for the GUI executable (its
 * program is packed in a form this builder does not read).
 */
export async function checkInstallerSoftware(
  bytes: Uint8Array,
  options: SoftwareCheckOptions = {},
  format: ArchiveFormat = resolveFormat(bytes),
): Promise<SoftwareReport | undefined> {
  if (format === 'exe') return undefined;
  const check = new SoftwareCheck(options);
  await visitArchive(bytes, format, check);
  return check.finish();
}
