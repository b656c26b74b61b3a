import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  opensInstallers,
  clearinghouseHash,
  parseRoute,
  shareHash,
  type Route,
} from '../../src/app/links.ts';
import type { ReservedSettings, ResolvedConfig } from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { renderVesselinfo } from '../../src/core/vesselinfo.ts';
import { RESERVED_KEY_FIXTURE } from '../support/tools.ts';

const settings: ReservedSettings = {
  reservedShare: 20,
  reservedKey: RESERVED_KEY_FIXTURE,
};

let ownerKey = '';
let userKey = '';
let user2Key = '';

beforeAll(async () => {
  [ownerKey, userKey, user2Key] = (
    await Promise.all([generateKeyPair(1024), generateKeyPair(1024), generateKeyPair(1024)])
  ).map((pair) => pair.publicKey) as [string, string, string];
});

function shared(route: Route): Extract<Route, { view: 'shared' }> {
  expect(route.view).toBe('shared');
  return route as Extract<Route, { view: 'shared' }>;
}

function errorCodes(route: Extract<Route, { view: 'shared' }>): string[] {
  return route.problems.filter((p) => p.severity === 'error').map((p) => p.code);
}

describe('plain views', () => {
  it('maps each view fragment to its view and back', () => {
    const views = {
      '#/': 'build',
      '#/keys': 'keys',
      '#/installers': 'installers',
      '#/inspect': 'inspect',
      '#/how': 'how',
      '#/fast': 'fastlane',
    } as const;
    for (const [hash, view] of Object.entries(views)) {
      expect(parseRoute(hash, settings)).toEqual({ view });
    }
  });

  it('opens the build view for an empty or unknown fragment', () => {
    for (const hash of ['', '#', '#/', 'not-a-route', '#/nothing/here']) {
      expect(parseRoute(hash, settings)).toEqual({ view: 'build' });
    }
  });
});

describe('clearinghouse links', () => {
  it('give the vesselinfo of the clearinghouse XML-RPC call: owner, user, reserved vessel', () => {
    const route = shared(
      parseRoute(
        clearinghouseHash({ owner: ownerKey, users: [userKey], platform: 'linux' }),
        settings,
      ),
    );
    expect(errorCodes(route)).toEqual([]);
    expect(route.platform).toBe('linux');
    expect(route.resolved?.vessels).toEqual([{ percentage: 80, owner: 'owner', users: ['user'] }]);
    expect(renderVesselinfo(route.resolved!)).toBe(
      `Percent 80\nOwner ${ownerKey}\nUser ${userKey}\nPercent 20\nOwner ${settings.reservedKey}`,
    );
  });

  it('writes the space inside a key as + and reads both + and %20', () => {
    const hash = clearinghouseHash({ owner: ownerKey });
    expect(hash).toBe(`#/get?owner=${ownerKey.replace(' ', '+')}`);
    const withPercent20 = `#/get?owner=${ownerKey.replace(' ', '%20')}&user=${userKey.replace(' ', '%20')}`;
    const route = shared(parseRoute(withPercent20, settings));
    expect(route.resolved?.publicKeys).toEqual({ owner: ownerKey, user: userKey });
  });

  it('names several users user, user2, … in the order of the link', () => {
    const route = shared(
      parseRoute(clearinghouseHash({ owner: ownerKey, users: [userKey, user2Key] }), settings),
    );
    expect(route.resolved?.vessels[0]?.users).toEqual(['user', 'user2']);
    expect(route.resolved?.publicKeys.user2).toBe(user2Key);
    expect(route.platform).toBeUndefined();
  });

  it('refuses a link without an owner key, saying which parameter is missing', () => {
    const route = shared(parseRoute(`#/get?user=${userKey.replace(' ', '+')}`, settings));
    expect(route.resolved).toBeUndefined();
    expect(route.problems).toContainEqual(
      expect.objectContaining({ code: 'link.owner.missing', path: 'owner', severity: 'error' }),
    );
  });

  it('refuses a share that leaves the user share incomplete, with the core validation words', () => {
    const route = shared(parseRoute(clearinghouseHash({ owner: ownerKey, share: 70 }), settings));
    expect(route.resolved).toBeUndefined();
    const total = route.problems.find((p) => p.code === 'config.vessels.total');
    expect(total?.path).toBe('share');
    expect(total?.message).toContain('70%');
  });

  it('refuses a share that is not a number', () => {
    const route = shared(
      parseRoute(`#/get?owner=${ownerKey.replace(' ', '+')}&share=most`, settings),
    );
    expect(errorCodes(route)).toEqual(['link.share.invalid']);
  });

  it('reports a malformed user key at the user parameter with the key parser code', () => {
    const route = shared(
      parseRoute(clearinghouseHash({ owner: ownerKey, users: [userKey, 'INVALID'] }), settings),
    );
    expect(route.resolved).toBeUndefined();
    const bad = route.problems.filter((p) => p.severity === 'error');
    expect(bad.length).toBeGreaterThan(0);
    for (const p of bad) {
      expect(p.code).toMatch(/^key\.public\./);
      expect(p.path).toBe('user (2nd)');
    }
  });

  it('keeps a link with an unknown platform usable, with a warning', () => {
    const route = shared(
      parseRoute(`${clearinghouseHash({ owner: ownerKey })}&platform=beos`, settings),
    );
    expect(route.resolved).toBeDefined();
    expect(route.platform).toBeUndefined();
    expect(route.problems).toContainEqual(
      expect.objectContaining({ code: 'link.platform.unknown', severity: 'warning' }),
    );
  });

  it('uses the deployment reserved share as the default share', () => {
    const route = shared(
      parseRoute(clearinghouseHash({ owner: ownerKey }), { ...settings, reservedShare: 40 }),
    );
    expect(route.resolved?.vessels[0]?.percentage).toBe(60);
    expect(route.resolved?.reservedShare).toBe(40);
  });
});

describe('share links', () => {
  function config(): ResolvedConfig {
    return {
      vessels: [
        { percentage: 60, owner: 'alice', users: ['bob'] },
        { percentage: 20, owner: 'bob', users: [] },
      ],
      publicKeys: { alice: ownerKey, bob: userKey },
      reservedShare: 20,
      reservedKey: settings.reservedKey,
    };
  }

  it('open the configuration they were made from, with the platform', () => {
    const hash = shareHash(config(), 'mac');
    expect(hash).toMatch(/^#\/s\/[^/]+\/mac$/);
    const route = shared(parseRoute(hash, settings));
    expect(errorCodes(route)).toEqual([]);
    expect(route.platform).toBe('mac');
    expect(route.resolved).toEqual(config());
    expect(renderVesselinfo(route.resolved!)).toBe(renderVesselinfo(config()));
  });

  it('without a platform open every platform', () => {
    const route = shared(parseRoute(shareHash(config()), settings));
    expect(route.resolved).toEqual(config());
    expect(route.platform).toBeUndefined();
  });

  it('always reserve the share for this builder’s reserved key: a link carries none', () => {
    const foreign = { ...config(), reservedKey: user2Key };
    const hash = shareHash(foreign);
    expect(hash).toBe(shareHash(config()));
    const route = shared(parseRoute(hash, settings));
    expect(route.resolved?.reservedKey).toBe(settings.reservedKey);
    expect(errorCodes(route)).toEqual([]);
  });

  it('show a problem and no configuration when the code is damaged', () => {
    const good = shareHash(config());
    for (const hash of ['#/s/', '#/s/%%%', '#/s/!!not-a-share!!', good.slice(0, good.length / 2)]) {
      const route = shared(parseRoute(hash, settings));
      expect(route.resolved, hash).toBeUndefined();
      expect(errorCodes(route).length, hash).toBeGreaterThan(0);
    }
  });
});

describe('decoding a link never throws', () => {
  it('turns any fragment into a route, a bad link into problems', () => {
    const fragment = fc.oneof(
      fc.string(),
      fc.string().map((s) => `#/s/${s}`),
      fc.string().map((s) => `#/s/1.${s}`),
      fc.string().map((s) => `#/get?${s}`),
      fc
        .tuple(fc.constantFrom('owner', 'user', 'share', 'platform', 'constructor'), fc.string())
        .map(([k, v]) => `#/get?${k}=${encodeURIComponent(v)}`),
    );
    fc.assert(
      fc.property(fragment, (hash) => {
        const route = parseRoute(hash, settings);
        if (route.view === 'shared' && !route.resolved) {
          expect(route.problems.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('opens a share link whose users are named constructor, toString and valueOf', () => {
    const resolved: ResolvedConfig = {
      vessels: [{ percentage: 80, owner: 'constructor', users: ['toString', 'valueOf'] }],
      publicKeys: { constructor: ownerKey, toString: userKey, valueOf: user2Key },
      reservedShare: 20,
      reservedKey: settings.reservedKey,
    };
    const route = shared(parseRoute(shareHash(resolved), settings));
    expect(errorCodes(route)).toEqual([]);
    expect(route.resolved?.publicKeys).toEqual(resolved.publicKeys);
  });
});

describe('opensInstallers', () => {
  it('is true for the steps that build installers and only for them', () => {
    for (const hash of ['#/installers', '#/fast', '#/get?owner=3+55', '#/s/abc', '#/s/abc/linux'])
      expect(opensInstallers(hash), hash).toBe(true);
    for (const hash of ['', '#/', '#/keys', '#/inspect', '#/how', '#/getting', '#/fastlane'])
      expect(opensInstallers(hash), hash).toBe(false);
  });
});
