/**
 * The checks a base passes before anything is built from it, in one bounded walk of its entries:
 * no ambiguous vesselinfo (docs/formats.md#entry-paths) and Seattle software that matches its
 * signed metainfo (docs/formats.md#signed-metainfo). Inspect, customize, prepare-base, the server
 * and the page's worker all call these; the verdict belongs to the bytes, so callers may keep it
 * by the base's SHA-256.
 */
import { errorsOf, type Problem } from '../problems.ts';
import {
  SoftwareCheck,
  softwareBuildProblems,
  type SoftwareCheckOptions,
  type SoftwareReport,
} from '../software.ts';
import type { ArchiveEntry, EntryVisitor } from './entries.ts';
import { detectFormat } from './format.ts';
import type { ArchiveFormat } from '../platforms.ts';
import { VesselinfoFinder } from './vesselinfo-entries.ts';
import {
  bytesSource,
  MAX_INFLATED_BYTES,
  walkEntries,
  type InstallerSource,
  type WalkOptions,
} from './walk.ts';

/**
 * Every program file is read, so one may be as large as the walk's whole cap; the base is an
 * operator's, so larger inflate pieces (faster) are fine within that cap, and so are whole members
 * of an append-ready base (inflated natively, several at once: members.ts).
 */
const BASE_WALK_LIMITS = {
  maxEntryBytes: MAX_INFLATED_BYTES,
  maxTotalBytes: MAX_INFLATED_BYTES,
  inflatePiece: 1 << 16,
  memberBytes: 16 << 20,
};

/** The software check's options, and how the walk inflates (default: natively where safe). */
export interface BaseCheckOptions extends SoftwareCheckOptions {
  walk?: WalkOptions;
  /** Called when the walk has read every entry, before the last digests are waited for. */
  onWalked?: () => void;
}

/** Hands each entry to every visitor; data is inflated when any of them wants it. */
function visitAll(visitors: EntryVisitor[]): EntryVisitor {
  return {
    wantsData: (entry: ArchiveEntry) => visitors.some((v) => v.wantsData(entry)),
    onEntry: (entry: ArchiveEntry, data?: Uint8Array) => {
      for (const v of visitors) v.onEntry(entry, data);
    },
  };
}

async function walk(
  installer: Uint8Array | InstallerSource,
  visitors: EntryVisitor[],
  format: ArchiveFormat | undefined,
  options: WalkOptions = {},
): Promise<boolean> {
  const source = installer instanceof Uint8Array ? bytesSource(installer) : installer;
  if ((format ?? detectFormat(await source.head(8))) === 'exe') return false;
  return (await walkEntries(source, visitAll(visitors), BASE_WALK_LIMITS, options)) !== undefined;
}

/**
 * The software report for any installer or base, or undefined for the GUI executable (its
 * program is packed in a form this builder does not read).
 */
export async function checkInstallerSoftware(
  installer: Uint8Array | InstallerSource,
  options: BaseCheckOptions = {},
  format?: ArchiveFormat,
): Promise<SoftwareReport | undefined> {
  const check = new SoftwareCheck(options);
  if (!(await walk(installer, [check], format, options.walk))) return undefined;
  await check.settle();
  return check.finish();
}

export interface BaseCheck {
  /** Undefined for the GUI executable, whose program this builder does not read. */
  software?: SoftwareReport;
  /** No entry extracts to the vesselinfo: a customiser may splice without walking again. */
  clean: boolean;
  /** Errors refuse the base (ambiguous vesselinfo, software not as signed); warnings do not. */
  problems: Problem[];
}

/** Both checks a base must pass before a build, in one walk of its entries. */
export async function checkBase(
  base: Uint8Array | InstallerSource,
  options: BaseCheckOptions = {},
  format?: ArchiveFormat,
): Promise<BaseCheck> {
  const finder = new VesselinfoFinder(false);
  const software = new SoftwareCheck(options);
  if (!(await walk(base, [finder, software], format, options.walk)))
    return { clean: true, problems: [] };
  options.onWalked?.();
  await software.settle();
  const report = software.finish();
  return {
    software: report,
    clean: finder.matches.length === 0,
    problems: [...finder.problems(), ...softwareBuildProblems(report, 'base')],
  };
}

/** Whether a base with this check may be built from (warnings allowed). */
export function baseBuildable(check: BaseCheck): boolean {
  return errorsOf(check.problems).length === 0;
}
