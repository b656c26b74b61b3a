/**
 * The software check of a whole installer: the bounded entry walk feeding `SoftwareCheck`, the
 * one call every caller (inspect, customize, prepare-base, the server, the page's worker) uses.
 */
import { SoftwareCheck, type SoftwareCheckOptions, type SoftwareReport } from '../software.ts';
import { detectFormat, type ArchiveFormat } from './index.ts';
import { bytesSource, MAX_INFLATED_BYTES, walkEntries, type InstallerSource } from './walk.ts';

/**
 * Every program file is read, so one may be as large as the walk's whole cap; the base is an
 * operator's, so larger inflate pieces (faster) are fine within that cap.
 */
const SOFTWARE_WALK_LIMITS = {
  maxEntryBytes: MAX_INFLATED_BYTES,
  maxTotalBytes: MAX_INFLATED_BYTES,
  inflatePiece: 1 << 16,
};

/**
 * The software report for any installer or base, or undefined for the GUI executable (its
 * program is packed in a form this builder does not read).
 */
export async function checkInstallerSoftware(
  installer: Uint8Array | InstallerSource,
  options: SoftwareCheckOptions = {},
  format?: ArchiveFormat,
): Promise<SoftwareReport | undefined> {
  const source = installer instanceof Uint8Array ? bytesSource(installer) : installer;
  if ((format ?? detectFormat(await source.head(8))) === 'exe') return undefined;
  const check = new SoftwareCheck(options);
  const walked = await walkEntries(source, check, SOFTWARE_WALK_LIMITS);
  return walked ? check.finish() : undefined;
}
