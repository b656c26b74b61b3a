/**
 * The one table of platform facts: each platform's base installer, its archive kind, the name
 * the donor's installer is saved and served under, its media type, its label and the steps that
 * install it. The page, the command line, make-base and the server all derive theirs from it
 * (docs/formats.md, "Base installers").
 */
/** The facts written once; everything below, the types included, is derived from them. */
const TABLE = [
  {
    platform: 'linux',
    label: 'Linux',
    baseFile: 'seattle_linux.tgz',
    format: 'tgz',
    standard: true,
    installSteps:
      'Extract it (tar -xzf seattle_linux.tgz), then run ./install.sh inside the seattle folder.',
  },
  {
    platform: 'mac',
    label: 'macOS',
    baseFile: 'seattle_mac.tgz',
    format: 'tgz',
    standard: true,
    installSteps:
      'Extract it (double-click, or tar -xzf seattle_mac.tgz), then run ./install.sh inside the seattle folder from Terminal.',
  },
  {
    platform: 'windows',
    label: 'Windows',
    baseFile: 'seattle_win.zip',
    format: 'zip',
    standard: true,
    installSteps:
      'Extract the zip (right-click, Extract All), open the seattle folder and double-click install.bat.',
  },
  {
    platform: 'android',
    label: 'Android',
    baseFile: 'seattle_android.zip',
    format: 'zip',
    standard: true,
    installSteps:
      'Copy the zip to the device and install it with the Seattle app, which reads the seattle folder inside.',
  },
  {
    platform: 'windows_gui',
    label: 'Windows (installer program)',
    baseFile: 'seattle_win_gui.exe',
    format: 'exe',
    standard: false,
    installSteps:
      'Run the program and follow its steps; it installs Seattle with this configuration.',
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
  /** What the donor does with the saved installer, in one sentence. */
  installSteps: string;
}

/** Each archive kind's media type and the name a person reads for it. */
const FORMATS: Record<ArchiveFormat, { mediaType: string; name: string }> = {
  tgz: { mediaType: 'application/gzip', name: 'gzip-compressed tar (Linux, Mac)' },
  zip: { mediaType: 'application/zip', name: 'zip (Windows, Android)' },
  exe: {
    mediaType: 'application/vnd.microsoft.portable-executable',
    name: 'Windows installer program (.exe)',
  },
};

export const PLATFORMS: readonly PlatformInfo[] = TABLE.map((row) => ({
  ...row,
  outputFile: row.baseFile,
  mediaType: FORMATS[row.format].mediaType,
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

/** The name a person reads for an archive kind, such as "zip (Windows, Android)". */
export function formatNameOf(format: ArchiveFormat): string {
  return FORMATS[format].name;
}

/** The label a person reads for a platform, such as "macOS". */
export function platformLabel(platform: Platform): string {
  return platformInfoOf(platform)?.label ?? platform;
}
