/**
 * The one table of platform facts: each platform's base installer, its archive kind, the name
 * the donor's installer is saved and served under, its media type and its label. The page, the
 * command line, make-base and the server all derive theirs from it (docs/formats.md, "Base
 * installers").
 */
export type Platform = 'linux' | 'mac' | 'windows' | 'android' | 'windows_gui';
export type ArchiveFormat = 'tgz' | 'zip' | 'exe';

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

export const PLATFORMS: readonly PlatformInfo[] = [
  platformInfo('linux', 'Linux', 'seattle_linux.tgz', 'tgz', true),
  platformInfo('mac', 'Mac', 'seattle_mac.tgz', 'tgz', true),
  platformInfo('windows', 'Windows', 'seattle_win.zip', 'zip', true),
  platformInfo('android', 'Android', 'seattle_android.zip', 'zip', true),
  platformInfo('windows_gui', 'Windows (GUI installer)', 'seattle_win_gui.exe', 'exe', false),
];

function platformInfo(
  platform: Platform,
  label: string,
  baseFile: string,
  format: ArchiveFormat,
  standard: boolean,
): PlatformInfo {
  return {
    platform,
    label,
    baseFile,
    format,
    outputFile: baseFile,
    mediaType: MEDIA_TYPES[format],
    standard,
  };
}

export function platformInfoOf(platform: string): PlatformInfo | undefined {
  return PLATFORMS.find((p) => p.platform === platform);
}

export function isPlatform(value: unknown): value is Platform {
  return typeof value === 'string' && platformInfoOf(value) !== undefined;
}
