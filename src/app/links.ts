/**
 * The page's links, all in the URL fragment so they work from any static host or sub-path and
 * never reach a server: views (`#/keys`), share links (`#/s/<code>`) and clearinghouse links
 * (`#/get?owner=…&user=…`). Pure TypeScript: no DOM, so it is unit-tested in Node.
 */
import {
  canonicalPublicKey,
  validateConfig,
  type BuildConfig,
  type ReservedSettings,
  type ResolvedConfig,
} from '../core/build-config.ts';
import { decodeShare, encodeShare } from '../core/share.ts';
import { isPlatform, PLATFORMS, type Platform } from '../core/platforms.ts';
import { problem, errorsOf, type Problem } from '../core/problems.ts';

export type Route =
  | { view: 'build' }
  | { view: 'keys' }
  | { view: 'installers' }
  | { view: 'inspect' }
  | { view: 'how' }
  | { view: 'fastlane' }
  /**
   * A share or clearinghouse link: the installers step for `resolved`. `problems` holds every
   * problem found in the link; when any is an error, `resolved` is absent and the page shows
   * the problems instead. Warnings (e.g. an unknown platform) leave `resolved` usable.
   */
  | { view: 'shared'; resolved?: ResolvedConfig; platform?: Platform; problems: Problem[] };

export type View = Route['view'];

/** The fragment of each plain view; `build` is the page's default (`#/` or nothing). */
const VIEW_HASHES: Record<Exclude<View, 'shared'>, string> = {
  build: '#/',
  keys: '#/keys',
  installers: '#/installers',
  inspect: '#/inspect',
  how: '#/how',
  fastlane: '#/fast',
};

/** Route prefixes inside the fragment. */
const SHARE_PREFIX = 's/';
const CLEARINGHOUSE_PATH = 'get';

/**
 * Names the clearinghouse route gives its keys, exactly as the clearinghouse's XML-RPC call does
 * (docs/formats.md#clearinghouse-links): the owner is `owner`, the users `user`, `user2`, `user3`, …
 */
export const CLEARINGHOUSE_OWNER = 'owner';
export function clearinghouseUserName(index: number): string {
  return index === 0 ? 'user' : `user${index + 1}`;
}

function platformNames(): string {
  return PLATFORMS.map((p) => p.platform).join(', ');
}

/** `#/s/<code>` or `#/s/<code>/<platform>`: the installers step for this configuration. */
export function shareHash(resolved: ResolvedConfig, platform?: Platform): string {
  const code = encodeURIComponent(encodeShare(resolved));
  return `#/${SHARE_PREFIX}${code}${platform ? `/${platform}` : ''}`;
}

/**
 * A clearinghouse link (README, "Links for clearinghouses"): one vessel of `share` percent
 * (default: the whole user share) owned by `owner`, used by `users`. Keys are Seattle strings
 * `"e n"`; URLSearchParams writes the space as `+`.
 */
export function clearinghouseHash(params: {
  owner: string;
  users?: string[];
  share?: number;
  platform?: Platform;
}): string {
  const query = new URLSearchParams();
  query.append('owner', params.owner);
  for (const user of params.users ?? []) query.append('user', user);
  if (params.share !== undefined) query.append('share', String(params.share));
  if (params.platform) query.append('platform', params.platform);
  return `#/${CLEARINGHOUSE_PATH}?${query.toString()}`;
}

/**
 * Reads the fragment (`location.hash`, with or without its `#`). Plain views and unknown
 * fragments need no settings; share and clearinghouse links are validated against `settings`
 * with the core's own rules, so their problems read as they do everywhere else.
 */
export function parseRoute(hash: string, settings: ReservedSettings): Route {
  const fragment = hash.replace(/^#/, '').replace(/^\//, '');
  const [path = '', query = ''] = splitOnce(fragment, '?');
  if (path.startsWith(SHARE_PREFIX))
    return parseShareLink(path.slice(SHARE_PREFIX.length), settings);
  if (path === CLEARINGHOUSE_PATH) return parseClearinghouseLink(query, settings);
  for (const [view, viewFragment] of Object.entries(VIEW_HASHES)) {
    if (viewFragment === `#/${path}`) return { view } as Route;
  }
  return { view: 'build' };
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

function decodeComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Reads an optional `/<platform>` or `platform=`: an unknown one is a warning, not a dead link. */
function readPlatform(
  text: string | undefined,
  path: string,
  problems: Problem[],
): Platform | undefined {
  if (text === undefined || text === '') return undefined;
  if (isPlatform(text)) return text;
  problems.push(
    problem(
      'link.platform.unknown',
      path,
      `The link names the platform "${text}", which this builder does not know (it knows ${platformNames()}); all platforms are offered instead.`,
      'warning',
    ),
  );
  return undefined;
}

function parseShareLink(rest: string, settings: ReservedSettings): Route {
  const problems: Problem[] = [];
  const [rawCode, rawPlatform] = splitOnce(rest, '/');
  if (!rawCode) {
    problems.push(
      problem(
        'link.share.missing',
        'link',
        'This share link has no configuration in it; it may have been cut short when it was copied.',
      ),
    );
    return { view: 'shared', problems };
  }
  const code = decodeComponent(rawCode);
  if (code === undefined) {
    problems.push(
      problem(
        'link.share.malformed',
        'link',
        'This share link is damaged (it has a stray "%"); copy the whole link again from where you got it.',
      ),
    );
    return { view: 'shared', problems };
  }
  const platform = readPlatform(decodeComponent(rawPlatform) ?? rawPlatform, 'platform', problems);
  // The decoder checks the link against this builder's settings and takes the reserved vessel
  // from them: a link cannot give the reserved share of a node to another key.
  let decoded: ReturnType<typeof decodeShare>;
  try {
    decoded = decodeShare(code, settings);
  } catch (error) {
    // decodeShare is built never to throw; should it, the link is still only a message.
    problems.push(
      problem(
        'link.share.unreadable',
        'link',
        `This share link cannot be read (${error instanceof Error ? error.message : String(error)}); copy the whole link again.`,
      ),
    );
    return { view: 'shared', problems };
  }
  problems.push(...decoded.problems);
  if (!decoded.resolved || errorsOf(problems).length) return { view: 'shared', problems };
  return platform
    ? { view: 'shared', resolved: decoded.resolved, platform, problems }
    : { view: 'shared', resolved: decoded.resolved, problems };
}

/**
 * The clearinghouse link, equivalent to the clearinghouse's XML-RPC call (docs/formats.md#clearinghouse-links): one vessel
 * owned by `owner` (the donor's donation key) and used by `user`, `user2`, … (e.g. the
 * clearinghouse's acceptdonation key).
 */
function parseClearinghouseLink(query: string, settings: ReservedSettings): Route {
  const problems: Problem[] = [];
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    params = new URLSearchParams();
  }
  const owner = params.get('owner')?.trim() ?? '';
  const users = params.getAll('user').map((u) => u.trim());
  const platform = readPlatform(params.get('platform') ?? undefined, 'platform', problems);
  const userShare = 100 - settings.reservedShare;

  const known = new Set(['owner', 'user', 'share', 'platform']);
  for (const name of new Set(params.keys())) {
    if (!known.has(name)) {
      problems.push(
        problem(
          'link.parameter.unknown',
          name,
          `The link has a parameter "${name}" this builder does not use (it reads owner, user, share and platform); it was ignored.`,
          'warning',
        ),
      );
    }
  }
  if (!owner) {
    problems.push(
      problem(
        'link.owner.missing',
        'owner',
        'The link gives no owner key: add owner=<e>+<n>, the public key that owns the vessel (the donor’s donation key).',
      ),
    );
  }
  let percentage = userShare;
  const shareText = params.get('share');
  if (shareText !== null) {
    percentage = Number(shareText.trim());
    if (shareText.trim() === '' || !Number.isInteger(percentage)) {
      problems.push(
        problem(
          'link.share.invalid',
          'share',
          `The link's share "${shareText}" is not a whole number of percent; leave it out to give the vessel the whole ${userShare}%.`,
        ),
      );
    }
  }
  if (errorsOf(problems).length) return { view: 'shared', problems };

  const userNames = users.map((_, i) => clearinghouseUserName(i));
  const userData: Record<string, { public_key: string }> = {
    [CLEARINGHOUSE_OWNER]: { public_key: owner },
  };
  users.forEach((key, i) => (userData[userNames[i]!] = { public_key: key }));
  const config: BuildConfig = {
    vessels: [{ percentage, owner: CLEARINGHOUSE_OWNER, users: userNames }],
    user_data: userData,
  };
  const checked = validateConfig(config, settings);
  problems.push(...checked.problems.map((p) => ({ ...p, path: linkPath(p.path, users.length) })));
  if (!checked.config || errorsOf(problems).length) return { view: 'shared', problems };
  const resolved: ResolvedConfig = {
    vessels: [{ percentage, owner: CLEARINGHOUSE_OWNER, users: userNames }],
    publicKeys: canonicalKeys(
      Object.fromEntries(Object.entries(userData).map(([name, data]) => [name, data.public_key])),
    ),
    reservedShare: settings.reservedShare,
    reservedKey: canonicalPublicKey(settings.reservedKey, 'settings.reservedKey'),
  };
  return platform
    ? { view: 'shared', resolved, platform, problems }
    : { view: 'shared', resolved, problems };
}

/** Keys as `"e n"` exactly as the core's resolveConfig writes them (only called once valid). */
function canonicalKeys(keys: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(keys).map(([name, key]) => [
      name,
      canonicalPublicKey(key, `user_data.${name}.public_key`),
    ]),
  );
}

/**
 * Names the link parameter a core problem path is about (`user_data.user2.public_key` -> `user
 * (2nd)`, `vessels[0].percentage` -> `share`), so the person sees which part of the link to fix.
 */
function linkPath(path: string, userCount: number): string {
  if (/^vessels\[0\]\.percentage$/.test(path) || /^vessels$/.test(path)) return 'share';
  if (path.startsWith(`user_data.${CLEARINGHOUSE_OWNER}`)) return 'owner';
  for (let i = 0; i < userCount; i++) {
    const name = clearinghouseUserName(i);
    if (path === `user_data.${name}` || path.startsWith(`user_data.${name}.`)) {
      return userCount === 1 ? 'user' : `user (${ordinal(i + 1)})`;
    }
  }
  return path;
}

function ordinal(n: number): string {
  const suffix =
    n % 10 === 1 && n !== 11
      ? 'st'
      : n % 10 === 2 && n !== 12
        ? 'nd'
        : n % 10 === 3 && n !== 13
          ? 'rd'
          : 'th';
  return `${n}${suffix}`;
}

/**
 * `#/b/<build id>[/<platform>]`: a build stored on the server behind the page, which redirects
 * here when the build's share link would make too long a header. Only works with that server.
 */
export function buildRecordLink(hash: string): { id: string; platform: string } | undefined {
  const match = /^#?\/?b\/([a-z0-9]{40})(?:\/([a-z_]{1,20}))?$/.exec(hash);
  return match ? { id: match[1] as string, platform: match[2] ?? '' } : undefined;
}

/**
 * The share link for a build record the server answered (`<build id>/record.json`, beside the
 * page), or a route showing why there is none.
 */
export function shareHashOfRecord(
  record: unknown,
  link: { id: string; platform: string },
): string | Route {
  const share = (record as { share?: unknown } | null)?.share;
  if (typeof share === 'string' && share !== '')
    return `#/${SHARE_PREFIX}${encodeURIComponent(share)}${link.platform ? `/${link.platform}` : ''}`;
  return {
    view: 'shared',
    problems: [
      problem(
        'link.build.unavailable',
        'link',
        `The build ${link.id} could not be read from this server; ask for a new link.`,
      ),
    ],
  };
}

/** Whether `hash` opens a step that builds installers, before the settings exist to parse it. */
export function opensInstallers(hash: string): boolean {
  return /^#\/(?:(?:installers|fast|get)(?:[/?]|$)|[sb]\/)/.test(hash);
}
