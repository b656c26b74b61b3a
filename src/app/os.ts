import type { Platform } from '../core/platforms.ts';

/** The parts of `navigator` read here; user-agent client hints exist only in Chromium browsers. */
export interface VisitorNavigator {
  userAgent?: string;
  userAgentData?: { platform?: string } | undefined;
}

const HINTS: Record<string, Platform> = {
  windows: 'windows',
  macos: 'mac',
  linux: 'linux',
  android: 'android',
  // Chromebooks run the Linux installer in their Linux container.
  'chrome os': 'linux',
  chromeos: 'linux',
};

/**
 * The platform whose installer fits the visitor's computer: from the client hints' platform when
 * the browser gives one, else from the user-agent string; undefined when neither says (e.g. iOS).
 */
export function visitorPlatform(nav: VisitorNavigator): Platform | undefined {
  const hinted = nav.userAgentData?.platform?.trim().toLowerCase();
  if (hinted && HINTS[hinted]) return HINTS[hinted];
  const ua = nav.userAgent ?? '';
  // Order matters: Android user agents also say "Linux", iPads may say "Mac OS X".
  if (/Android/i.test(ua)) return 'android';
  if (/iPhone|iPad|iPod/i.test(ua)) return undefined;
  if (/Windows/i.test(ua)) return 'windows';
  if (/Macintosh|Mac OS X/i.test(ua)) return 'mac';
  if (/CrOS|Linux|X11/i.test(ua)) return 'linux';
  return undefined;
}
