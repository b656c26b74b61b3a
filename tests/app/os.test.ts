import { describe, expect, it } from 'vitest';
import { visitorPlatform } from '../../src/app/os.ts';

const UA = {
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  mac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  linux: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  android:
    'Mozilla/5.0 (Linux; Android 14; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  iphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  chromebook:
    'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
};

describe('visitorPlatform', () => {
  it('reads the user agent when there are no client hints', () => {
    expect(visitorPlatform({ userAgent: UA.windows })).toBe('windows');
    expect(visitorPlatform({ userAgent: UA.mac })).toBe('mac');
    expect(visitorPlatform({ userAgent: UA.linux })).toBe('linux');
    expect(visitorPlatform({ userAgent: UA.android })).toBe('android');
    expect(visitorPlatform({ userAgent: UA.chromebook })).toBe('linux');
    expect(visitorPlatform({ userAgent: UA.iphone })).toBeUndefined();
    expect(visitorPlatform({ userAgent: '' })).toBeUndefined();
  });

  it('prefers the client hints platform, and falls back to the user agent when it is empty or unknown', () => {
    expect(visitorPlatform({ userAgent: UA.linux, userAgentData: { platform: 'Windows' } })).toBe(
      'windows',
    );
    expect(visitorPlatform({ userAgent: UA.linux, userAgentData: { platform: 'macOS' } })).toBe(
      'mac',
    );
    expect(visitorPlatform({ userAgent: UA.windows, userAgentData: { platform: '' } })).toBe(
      'windows',
    );
    expect(visitorPlatform({ userAgent: UA.mac, userAgentData: { platform: 'Unknown' } })).toBe(
      'mac',
    );
  });
});
