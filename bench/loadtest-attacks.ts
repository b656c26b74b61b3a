/**
 * The hostile mixes of `npm run loadtest` (bench/loadtest.ts), run in a process of their own
 * (bench/loadtest-attacker.ts) so that what the load test measures in its own process is the
 * server, not the cost of the attack to the measuring client: large calls, control-character
 * bodies, trickling headers and downloads of fresh builds (curl processes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';

/** The clearinghouse: the load's own address, trusted (never rate limited or capped). */
export const TRUSTED = '127.0.0.1';
export const HOSTILE_CLIENTS = Number(process.env.LOADTEST_HOSTILE_CLIENTS ?? 2);
export const TRICKLE = Number(process.env.LOADTEST_TRICKLE ?? 1_000);
export const TRICKLE_ADDRESSES = 20;
export const DOWNLOADERS = Number(process.env.LOADTEST_DOWNLOADERS ?? 20);

export function post(
  agent: Agent,
  port: number,
  body: Buffer,
  localAddress = TRUSTED,
): Promise<string> {
  return new Promise((done, fail) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/xmlrpc/',
        method: 'POST',
        agent,
        localAddress,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': body.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          res.statusCode === 200
            ? done(Buffer.concat(chunks).toString('utf8'))
            : fail(new Error(`HTTP ${res.statusCode}`)),
        );
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('connection closed mid-response'));
        });
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

export const FAULT_CODE = /<name>faultCode<\/name>\s*<value><int>(-?\d+)</;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));

/** A child killed by a signal has no exit code, only a signal code. */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A compact build_installers call (untyped strings, no whitespace): one vessel, these users. */
function vesselWithUsers(users: string[]): Buffer {
  return Buffer.from(
    "<?xml version='1.0'?><methodCall><methodName>build_installers</methodName><params><param>" +
      '<value><array><data><value><struct><member><name>percentage</name><value><int>80</int></value>' +
      '</member><member><name>owner</name><value>owner</value></member><member><name>users</name>' +
      `<value><array><data>${users.map((u) => `<value>${u}</value>`).join('')}</data></array></value>` +
      '</member></struct></value></data></array></value></param></params></methodCall>',
  );
}

/** The large calls: 40,000 distinct short names (~650 KB) and ~1 MB of 45,000 invalid ones. */
export function largeCallBodies(): Buffer[] {
  const digits = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const names = Array.from(
    { length: 40_000 },
    (_, i) =>
      `${digits[Math.floor(i / 1296) % 26]}${digits[Math.floor(i / 36) % 36]}${digits[i % 36]}${i >= 33_696 ? i : ''}`,
  );
  const invalid = Array.from({ length: 45_000 }, (_, i) => `_${String(i).padStart(5, '0')}`);
  return [vesselWithUsers(names), vesselWithUsers(invalid)];
}

export const MEGA = 1_000_000;
/** A get_urls call around `inner`, as raw XML. */
export const getUrls = (inner: string) =>
  Buffer.from(
    `<?xml version="1.0"?><methodCall><methodName>get_urls</methodName><params><param><value><string>${inner}</string></value></param></params></methodCall>`,
  );

export type Figures = Record<string, number | string | boolean>;

/** A hostile mix, running until stopped; `stop` resolves with what it saw. */
export interface Attack {
  stop(): Promise<Figures>;
}

/** HOSTILE_CLIENTS clients from another address sending `bodies` back to back. */
export function bodiesAttack(port: number, bodies: Buffer[], expectedFault: RegExp): Attack {
  const agent = new Agent({ keepAlive: true, maxSockets: HOSTILE_CLIENTS });
  let stopped = false;
  const seen = { calls: 0, faults: 0, mb: 0, maxFaultBytes: 0, failures: 0 };
  async function client(offset: number): Promise<void> {
    for (let i = offset; !stopped; i++) {
      const body = bodies[i % bodies.length] as Buffer;
      try {
        const xml = await post(agent, port, body, '127.0.0.2');
        seen.calls += 1;
        seen.mb += body.length / 1e6;
        if (expectedFault.test(FAULT_CODE.exec(xml)?.[1] ?? '')) seen.faults += 1;
        seen.maxFaultBytes = Math.max(seen.maxFaultBytes, Buffer.byteLength(xml));
      } catch {
        seen.failures += 1;
      }
    }
  }
  const running = Promise.all(Array.from({ length: HOSTILE_CLIENTS }, (_, i) => client(i)));
  return {
    async stop() {
      stopped = true;
      await running;
      agent.destroy();
      return {
        hostile_clients: HOSTILE_CLIENTS,
        hostile_calls: seen.calls,
        hostile_faults: seen.faults,
        hostile_mb: round(seen.mb, 1),
        hostile_max_answer_bytes: seen.maxFaultBytes,
        hostile_failures: seen.failures,
      };
    },
  };
}

/**
 * TRICKLE connections from TRICKLE_ADDRESSES loopback addresses, each sending a request header a
 * byte a second; a connection the server closes is opened again (after 100 ms, or 1 s when it
 * was refused at once, as an attacker retrying would).
 */
export function trickleAttack(port: number): Attack {
  let stopped = false;
  /** Connected sockets, with when they connected. */
  const open = new Map<Socket, number>();
  const holds: number[] = [];
  const seen = { opened: 0, timedOut408: 0, refusedAtOnce: 0, other: 0, heldMax: 0 };
  const head = 'GET /config.json HTTP/1.1\r\nHost: x\r\nX-Slow: ';
  function slot(i: number): void {
    if (stopped) return;
    const started = performance.now();
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    const socket = connect({
      port,
      host: '127.0.0.1',
      localAddress: `127.0.0.${10 + (i % TRICKLE_ADDRESSES)}`,
    });
    socket.on('connect', () => {
      seen.opened += 1;
      open.set(socket, performance.now());
      let at = 0;
      timer = setInterval(() => socket.write(at < head.length ? head[at++]! : 'a'), 1000);
    });
    socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      open.delete(socket);
      if (/^HTTP\/1\.1 408 /.test(reply)) {
        seen.timedOut408 += 1;
        holds.push((performance.now() - started) / 1000);
      } else if (!reply) seen.refusedAtOnce += 1;
      else seen.other += 1;
      if (!stopped) setTimeout(() => slot(i), reply ? 100 : 1000);
    });
  }
  for (let i = 0; i < TRICKLE; i++) slot(i);
  // Held: open for over a second (a refused one is closed as it connects).
  const sampler = setInterval(() => {
    const now = performance.now();
    let held = 0;
    for (const since of open.values()) if (now - since > 1000) held += 1;
    seen.heldMax = Math.max(seen.heldMax, held);
  }, 250);
  return {
    async stop() {
      stopped = true;
      clearInterval(sampler);
      for (const socket of open.keys()) socket.destroy();
      const sorted = [...holds].sort((a, b) => a - b);
      return {
        trickle_connections: TRICKLE,
        trickle_addresses: TRICKLE_ADDRESSES,
        trickle_opened: seen.opened,
        trickle_held_max: seen.heldMax,
        trickle_closed_408: seen.timedOut408,
        trickle_refused_at_once: seen.refusedAtOnce,
        trickle_closed_otherwise: seen.other,
        trickle_hold_p50_s: round(percentile(sorted, 50)),
        trickle_hold_max_s: round(sorted[sorted.length - 1] ?? 0),
      };
    },
  };
}

/**
 * DOWNLOADERS curl processes, each downloading its share of `ids` (fresh builds: never asked for
 * before) back to back over one keep-alive connection, as fast as the server sends (its download
 * budget, DOWNLOAD_RATE_MBIT, bounds them all together); whole processes, so the downloads cost
 * this process's event loop nothing. The rate achieved is each curl's bytes over its time spent
 * on whole downloads, summed.
 */
export function downloadAttack(port: number, ids: string[]): Attack {
  const outputs: string[] = Array(DOWNLOADERS).fill('');
  const children = Array.from({ length: DOWNLOADERS }, (_, d) => {
    // At the lowest priority: on a real deployment the downloaders' CPU is not the server's. The
    // figures go to stderr, which curl does not buffer, so a killed curl has reported every
    // download it finished.
    const child = spawn(
      'nice',
      [
        '-n',
        '19',
        'curl',
        '--silent',
        '--interface',
        TRUSTED,
        '--write-out',
        '%{stderr}%{http_code} %{size_download} %header{content-length} %{time_total}\\n',
        '--config',
        '-',
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    child.stderr.on('data', (chunk: Buffer) => (outputs[d] += chunk.toString()));
    child.stdin.end(
      ids
        .filter((_, i) => i % DOWNLOADERS === d)
        .map(
          (id) =>
            `url = "http://127.0.0.1:${port}/${id}/installers/linux/"\noutput = "/dev/null"\n`,
        )
        .join(''),
    );
    return child;
  });
  return {
    async stop() {
      await Promise.all(
        children.map((child) => {
          if (hasExited(child)) return undefined;
          const exited = new Promise((done) => child.once('exit', done));
          child.kill('SIGTERM');
          return exited;
        }),
      );
      return downloadFigures(outputs, ids);
    },
  };
}

/** What the curls reported (one line per download, `outputs` per curl), as figures. */
function downloadFigures(outputs: string[], ids: string[]): Figures {
  const seen = { ok: 0, busy: 0, errors: 0, bytes: 0, bytesPerSecond: 0 };
  const samples: string[] = [];
  // Each curl's own lines: a curl stopped while writing its figures leaves a last line with
  // no newline, which is that stop's, not a download's (joined, it once ran into the next
  // curl's first line as code "2200").
  for (const output of outputs) {
    let bytes = 0;
    let seconds = 0;
    for (const line of output.split('\n').slice(0, -1)) {
      const [code, size, length, time] = line.trim().split(' ');
      if (!code) continue;
      if (code === '200' && size === length) {
        seen.ok += 1;
        bytes += Number(size);
        seconds += Number(time);
      } else if (code === '503') seen.busy += 1;
      else {
        seen.errors += 1;
        if (samples.length < 3) samples.push(line.trim());
      }
    }
    seen.bytes += bytes;
    if (seconds > 0) seen.bytesPerSecond += bytes / seconds;
  }
  return {
    downloaders: DOWNLOADERS,
    downloads: seen.ok,
    downloads_busy_503: seen.busy,
    download_errors: seen.errors,
    ...(samples.length > 0 ? { download_error_lines: samples.join(' | ') } : {}),
    downloads_mb: round(seen.bytes / 1e6, 0),
    download_mb_per_s: round(seen.bytesPerSecond / 1e6, 1),
    fresh_ids_left: ids.length - seen.ok - seen.busy - seen.errors,
  };
}

/** The hostile mixes, by name. */
export const MIXES = ['large_calls', 'control_chars', 'trickle', 'big_downloads'] as const;
export type MixName = (typeof MIXES)[number];

/** Starts the mix `name` against the server on `port`; `ids` are fresh builds to download. */
export function startAttack(name: MixName, port: number, ids: string[]): Attack {
  switch (name) {
    case 'large_calls':
      return bodiesAttack(port, largeCallBodies(), /^-32602$/);
    case 'control_chars':
      return bodiesAttack(
        port,
        [getUrls('\x01'.repeat(MEGA)), getUrls('\ufffe'.repeat(MEGA / 3))],
        /^-32702$/,
      );
    case 'trickle':
      return trickleAttack(port);
    case 'big_downloads':
      return downloadAttack(port, ids);
  }
}
