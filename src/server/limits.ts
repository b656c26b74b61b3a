/**
 * Per-client limits of the server (README, "Security and limits"): who a client is (its address,
 * or the one a trusted reverse proxy names), a token bucket per client for costly calls, and a cap
 * on the connections one address may hold open.
 */
import type { IncomingMessage, Server } from 'node:http';
import { isIP, type Socket } from 'node:net';

/** `::ffff:1.2.3.4` (an IPv4 client of a dual-stack socket) as `1.2.3.4`; anything else as is. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4
    ? address.slice(7)
    : address.toLowerCase();
}

/**
 * The key limits are counted under: an IPv4 address, or an IPv6 address's /64 prefix (one
 * subscriber usually gets a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function clientKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Which addresses are trusted, read from TRUSTED_CLIENTS and TRUSTED_PROXIES. */
export interface ClientTrust {
  /** Never rate limited or capped (the clearinghouse). */
  clients: ReadonlySet<string>;
  /** Reverse proxies: their X-Forwarded-For names the client, and they are not capped. */
  proxies: ReadonlySet<string>;
}

/**
 * The client's address: the socket's peer, or, when that peer is a trusted proxy, the last
 * address in X-Forwarded-For that is not itself a trusted proxy (earlier entries are whatever the
 * client chose to send).
 */
export function clientAddress(req: IncomingMessage, trust: ClientTrust): string {
  const peer = normalizeAddress(req.socket.remoteAddress);
  if (!trust.proxies.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeAddress(hops[i]!.trim());
    if (!isIP(hop)) break;
    if (!trust.proxies.has(hop)) return hop;
  }
  return peer;
}

/** The answer of a RateLimiter: allowed, or how long until the next call would be. */
export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Buckets are swept of idle (full) clients at most this often, and only past this many. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_ABOVE = 10_000;

/**
 * A token bucket per client: `perMinute` tokens a minute, at most `burst` saved up; each call
 * takes one. Memory stays bounded: clients whose bucket has refilled are forgotten.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private lastSweep = 0;

  constructor(
    readonly perMinute: number,
    readonly burst = perMinute,
    private readonly exempt: ReadonlySet<string> = new Set(),
  ) {
    this.perMs = perMinute / 60_000;
  }

  take(address: string, now = performance.now()): Admission {
    if (this.perMinute <= 0 || this.exempt.has(address)) return { ok: true };
    const key = clientKey(address);
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    this.sweep(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / this.perMs / 1000) };
  }

  private sweep(now: number): void {
    if (this.buckets.size <= SWEEP_ABOVE || now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.burst) this.buckets.delete(key);
    }
  }
}

/**
 * Caps the connections one client address (IPv6: one /64) holds open at once: a connection
 * beyond the cap is destroyed as it arrives, before a byte of it is read. Trusted clients and
 * proxies are not capped. Returns the live count per key, for tests and /healthz.
 */
export function capConnections(
  server: Server,
  maxPerClient: number,
  trust: ClientTrust,
): { open(): number } {
  const counts = new Map<string, number>();
  let open = 0;
  if (maxPerClient > 0) {
    server.on('connection', (socket: Socket) => {
      const address = normalizeAddress(socket.remoteAddress);
      if (trust.clients.has(address) || trust.proxies.has(address)) return;
      const key = clientKey(address);
      const count = counts.get(key) ?? 0;
      if (count >= maxPerClient) {
        socket.destroy();
        return;
      }
      counts.set(key, count + 1);
      open += 1;
      socket.once('close', () => {
        open -= 1;
        const left = (counts.get(key) ?? 1) - 1;
        if (left > 0) counts.set(key, left);
        else counts.delete(key);
      });
    });
  }
  return { open: () => open };
}
