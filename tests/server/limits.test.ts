import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  clientAddress,
  clientKey,
  normalizeAddress,
  RateLimiter,
} from '../../src/server/limits.ts';

describe('who a client is', () => {
  it('counts an IPv4 client of a dual-stack socket as IPv4, and IPv6 clients by their /64', () => {
    expect(normalizeAddress('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(normalizeAddress('2001:DB8::1')).toBe('2001:db8::1');
    expect(clientKey('192.0.2.7')).toBe('192.0.2.7');
    expect(clientKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:db8:0:1:ffff:ffff:ffff:ffff')).toBe('2001:db8:0:1::/64');
    expect(clientKey('2001:0db8:0000:0001:1:2:3:4')).toBe('2001:db8:0:1::/64');
    expect(clientKey('::1')).toBe('0:0:0:0::/64');
  });

  it('believes X-Forwarded-For only from a trusted proxy, and only its last untrusted hop', () => {
    const trust = { clients: new Set<string>(), proxies: new Set(['10.0.0.1', '10.0.0.2']) };
    const req = (peer: string, forwarded?: string) =>
      ({
        socket: { remoteAddress: peer },
        headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
      }) as unknown as IncomingMessage;
    expect(clientAddress(req('10.0.0.1', '198.51.100.9'), trust)).toBe('198.51.100.9');
    // The client may write anything in front; the proxies append what they saw.
    expect(clientAddress(req('10.0.0.1', '1.2.3.4, 198.51.100.9, 10.0.0.2'), trust)).toBe(
      '198.51.100.9',
    );
    expect(clientAddress(req('203.0.113.5', '198.51.100.9'), trust)).toBe('203.0.113.5');
    expect(clientAddress(req('10.0.0.1'), trust)).toBe('10.0.0.1');
    expect(clientAddress(req('10.0.0.1', 'not an address'), trust)).toBe('10.0.0.1');
  });
});

describe('the token bucket', () => {
  it('allows a burst, then one call per refill, and says how long to wait', () => {
    const limiter = new RateLimiter(60, 3); // one a second, three at once
    let now = 0;
    const take = (address = '192.0.2.1') => limiter.take(address, now);
    expect([take(), take(), take()].every((a) => a.ok)).toBe(true);
    expect(take()).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(take('192.0.2.2').ok).toBe(true); // another client has its own bucket
    now += 500;
    expect(take().ok).toBe(false);
    now += 500;
    expect(take().ok).toBe(true);
    expect(take().ok).toBe(false);
    now += 60_000; // refilled, never past the burst
    expect([take(), take(), take(), take()].map((a) => a.ok)).toEqual([true, true, true, false]);
  });

  it('never limits an exempt address, and limits nobody at 0 a minute', () => {
    const limiter = new RateLimiter(1, 1, new Set(['192.0.2.9']));
    for (let i = 0; i < 10; i++) expect(limiter.take('192.0.2.9', 0).ok).toBe(true);
    const off = new RateLimiter(0);
    for (let i = 0; i < 10; i++) expect(off.take('192.0.2.1', 0).ok).toBe(true);
  });
});
