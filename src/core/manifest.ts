/**
 * `manifest.json`, the list of base installers a deployment serves (docs/formats.md, "The base
 * manifest"), and its one validated reader: the page, the server, `cib customize` and the tests
 * all read it here, and a bad entry is named with the reason.
 */
import { isPlatform, type Platform } from './platforms.ts';
import { problem, type Problem } from './problems.ts';

export const MANIFEST_FILE = 'manifest.json';

export type BaseLayout = 'append-ready' | 'plain';

export interface BaseManifestEntry {
  platform: Platform;
  /** A plain file name in the manifest's own folder. */
  file: string;
  size: number;
  /** 64 lowercase hex digits. */
  sha256: string;
  layout?: BaseLayout;
  version?: string;
}

export interface BaseManifest {
  version?: string;
  /** Fingerprint of the software-update key that signed every base's metainfo (make-base). */
  updateKeyFingerprint?: string;
  bases: BaseManifestEntry[];
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
const FINGERPRINT = /^[0-9a-f]{4}(:[0-9a-f]{4}){3}$/;
/** A name in the manifest's folder: no separators, not `.` or `..`, nothing hidden. */
const PLAIN_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const LAYOUTS: readonly BaseLayout[] = ['append-ready', 'plain'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const fail = (path: string, message: string) => problem('manifest.invalid', path, message);

/** One entry of `bases`, read at `at`; undefined (its problems added) when it is not usable. */
function readEntry(
  entry: unknown,
  at: string,
  seen: Set<string>,
  problems: Problem[],
): BaseManifestEntry | undefined {
  if (!isObject(entry)) {
    problems.push(fail(at, 'Each base installer is an object {platform, file, size, sha256}.'));
    return undefined;
  }
  const before = problems.length;
  const { platform, file, size, sha256, layout, version } = entry;
  if (!isPlatform(platform)) {
    problems.push(
      fail(`${at}.platform`, `${JSON.stringify(platform)} is not a platform of this builder.`),
    );
  } else if (seen.has(platform)) {
    problems.push(fail(`${at}.platform`, `The ${platform} base is listed twice.`));
  } else {
    seen.add(platform);
  }
  if (typeof file !== 'string' || !PLAIN_FILE_NAME.test(file))
    problems.push(fail(`${at}.file`, 'The file must be a plain file name in the same folder.'));
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    problems.push(fail(`${at}.size`, 'The size must be a whole number of bytes.'));
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))
    problems.push(fail(`${at}.sha256`, 'The SHA-256 must be 64 lowercase hex digits.'));
  if (layout !== undefined && !LAYOUTS.includes(layout as BaseLayout))
    problems.push(fail(`${at}.layout`, `The layout must be one of ${LAYOUTS.join(', ')}.`));
  if (version !== undefined && typeof version !== 'string')
    problems.push(fail(`${at}.version`, 'The version must be text.'));
  if (problems.length > before) return undefined;
  return {
    platform: platform as Platform,
    file: file as string,
    size: size as number,
    sha256: sha256 as string,
    ...(layout === undefined ? {} : { layout: layout as BaseLayout }),
    ...(version === undefined ? {} : { version: version as string }),
  };
}

/**
 * Reads a manifest from its JSON text (or an already parsed value). Returns every problem, each
 * with the entry's place (`bases[2].sha256`); `manifest` only when there are none.
 */
export function parseManifest(input: string | unknown): {
  manifest?: BaseManifest;
  problems: Problem[];
} {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch {
      return {
        problems: [problem('manifest.json', MANIFEST_FILE, 'The manifest is not valid JSON.')],
      };
    }
  }
  if (!isObject(raw) || !Array.isArray(raw.bases)) {
    return {
      problems: [
        fail(
          MANIFEST_FILE,
          'The manifest must be an object with a "bases" list of base installers.',
        ),
      ],
    };
  }
  const problems: Problem[] = [];
  if (raw.version !== undefined && typeof raw.version !== 'string')
    problems.push(fail('version', 'The manifest version must be text.'));
  const keyPrint = raw.updateKeyFingerprint;
  if (keyPrint !== undefined && (typeof keyPrint !== 'string' || !FINGERPRINT.test(keyPrint)))
    problems.push(
      fail('updateKeyFingerprint', 'The update key fingerprint looks like 3f2a:9c1b:07de:44aa.'),
    );
  const seen = new Set<string>();
  const bases: BaseManifestEntry[] = [];
  raw.bases.forEach((entry: unknown, i) => {
    const base = readEntry(entry, `bases[${i}]`, seen, problems);
    if (base) bases.push(base);
  });
  if (problems.length > 0) return { problems };
  return {
    manifest: {
      ...(raw.version === undefined ? {} : { version: raw.version as string }),
      ...(keyPrint === undefined ? {} : { updateKeyFingerprint: keyPrint as string }),
      bases,
    },
    problems,
  };
}

/** `manifest.json` text: two-space JSON and a final newline, as Prettier leaves it. */
export function formatManifest(manifest: BaseManifest): string {
  return JSON.stringify(manifest, null, 2) + '\n';
}
