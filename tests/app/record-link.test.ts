import { describe, expect, it } from 'vitest';
import { buildRecordLink, shareHashOfRecord } from '../../src/app/links.ts';

const ID = '0123456789abcdef0123456789abcdef01234567';

describe("the server's short route #/b/<build id>", () => {
  it('reads the build id and an optional platform, and nothing else', () => {
    expect(buildRecordLink(`#/b/${ID}`)).toEqual({ id: ID, platform: '' });
    expect(buildRecordLink(`#/b/${ID}/linux`)).toEqual({ id: ID, platform: 'linux' });
    expect(buildRecordLink(`#/b/${ID.toUpperCase()}`)).toBeUndefined();
    expect(buildRecordLink(`#/b/${ID}x`)).toBeUndefined();
    expect(buildRecordLink(`#/s/${ID}`)).toBeUndefined();
  });

  it("turns the record's share code into the share link, or says the build is unavailable", () => {
    expect(shareHashOfRecord({ share: 'AbC-_9' }, { id: ID, platform: 'mac' })).toBe(
      '#/s/AbC-_9/mac',
    );
    expect(shareHashOfRecord({ share: 'a/b' }, { id: ID, platform: '' })).toBe('#/s/a%2Fb');
    for (const answer of [undefined, null, {}, { share: 42 }, { share: '' }]) {
      const route = shareHashOfRecord(answer, { id: ID, platform: '' });
      expect(route).toMatchObject({
        view: 'shared',
        problems: [{ code: 'link.build.unavailable', path: 'link' }],
      });
    }
  });
});
