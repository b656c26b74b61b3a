/**
 * The one table of platform facts: each platform's base installer, its archive kind, the name
 * the donor's installer is saved and served under, its media type and its label. The page, the
 * command line, make-base and the server all derive theirs from it (docs/formats.md, "Base
 * installers").
 */
/** The facts written once; everything below, the types included, is derived from them. */
const TABLE = [
  {
    platform: 'linux',
    label: 'Linux',
    baseFile: 'seattle_linux.tgz',
    format: 'tgz',
    standard: true,
  },
  { platform: 'mac', label: 'macOS', baseFile: 'seattle_mac.tgz', format: 'tgz', standard: true },
  {
    platform: 'windows',
    label: 'Windows',
    baseFile: 'seattle_win.zip',
    format: 'zip',
    standard: true,
  },
  {
    platform: 'android',
    label: 'Android',
    baseFile: 'seattle_android.zip',
    format: 'zip',
    standard: true,
  },
  {
    platform: 'windows_gui',
    label: 'Windows (installer program)',
    baseFile: 'seattle_win_gui.exe',
    format: 'exe',
    standard: false,
  },
] as const;

export type Platform = (typeof TABLE)[number]['platform'];
/** The four platforms every deployment has. */
export type StandardPlatform = Extract<(typeof TABLE)[number], { standard: true }>['platform'];
export type ArchiveFormat = (typeof TABLE)[number]['format'];

export interface PlatformInfo {
  platform: Platform;
  label: string;
  /** The base installer's file name. */
  baseFile: string;
  format: ArchiveFormat;
  /**
   * What the donor's custom installer is saved as: the base's own name, as the old service served
   * it, since Seattle's instructions tell donors to unpack `seattle_win.zip` and the like.
   */
  outputFile: string;
  mediaType: string;
  /** One of the four platforms every deployment has: made by `cib make-base`, listed by XML-RPC. */
  standard: boolean;
}

const MEDIA_TYPES: Record<ArchiveFormat, string> = {
  tgz: 'application/gzip',
  zip: 'application/zip',
  exe: 'application/vnd.microsoft.portable-executable',
};

export const PLATFORMS: readonly PlatformInfo[] = TABLE.map((row) => ({
  ...row,
  outputFile: row.baseFile,
  mediaType: MEDIA_TYPES[row.format],
}));

/** The standard platforms, in table order: what make-base builds and XML-RPC lists. */
export const STANDARD_PLATFORMS = PLATFORMS.filter(
  (p): p is PlatformInfo & { platform: StandardPlatform } => p.standard,
);

export function platformInfoOf(platform: string): PlatformInfo | undefined {
  return PLATFORMS.find((p) => p.platform === platform);
}

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && platformInfoOf(value) !== undefined;
}
