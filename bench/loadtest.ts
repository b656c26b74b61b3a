/**
 * `npm run loadtest` (README, "Server and XML-RPC shim"): a bounded load run of the XML-RPC shim
 * on loopback.
 *
 * Phase 1: a server in its own process takes WARMUP untimed calls, then CALLS build_installers
 * calls (the measured ones) with keys supplied from CONCURRENCY keep-alive clients; then it is
 * restarted and every returned id, warm-up included, is checked with get_urls (`lost_builds`).
 * Phase 2: the same load against a fresh server that gets SIGKILL in the middle; after a restart
 * every acknowledged build must be intact (get_urls answers and the record file parses). Phase 3
 * (between them in the run): small calls alone, then with hostile large calls (40,000 names, 1 MB
 * bodies) arriving in parallel. Phase 4: the old service's stress example (50 calls at once, two
 * generated keys each) against a server with the default key-generation threads and one with a
 * single thread, in turns. Writes bench/shim.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serializeMethodCall } from '@foxglove/xmlrpc';
import { buildId } from '../src/core/buildid.ts';
import { resolveConfig, type BuildConfig } from '../src/core/config.ts';
import { generateKeyPair } from '../src/core/keygen.ts';
import { loadDeploymentSettings, PROJECT_ROOT } from '../src/node/deployment.ts';
import { parseRecord } from '../src/server/store.ts';
import { median } from './stats.ts';

const CALLS = Number(process.env.LOADTEST_CALLS ?? 10_000);
const CONCURRENCY = Number(process.env.LOADTEST_CONCURRENCY ?? 64);
/** Untimed calls first, as every benchmark here warms up: JIT, caches, the writer threads. */
const WARMUP = Number(process.env.LOADTEST_WARMUP ?? 1_000);
const KEY_PAIRS = 6;
/**
 * Server processes sharing the port; 2 measured no faster on this 2-core machine (the generator
 * needs one).
 */
const WORKERS = Number(process.env.LOADTEST_WORKERS ?? 1);
/** Phase 3: small calls measured alone, then with hostile large calls arriving in parallel. */
const HOSTILE_SMALL_CALLS = Number(process.env.LOADTEST_HOSTILE_CALLS ?? 2_000);
const HOSTILE_CLIENTS = Number(process.env.LOADTEST_HOSTILE_CLIENTS ?? 2);
const SMALL_CONCURRENCY = 8;
/**
 * The goal: small calls' p99 with hostile calls in parallel at most this many times their p99
 * alone.
 */
const HOSTILE_P99_GOAL_RATIO = 5;
/** Phase 4: the old service's stress example, timed this many times per server after a warm-up. */
const STRESS_RUNS = Number(process.env.LOADTEST_STRESS_RUNS ?? 5);
const STRESS_CALLS = 50;
/** Phase 2 kills the server once this many calls have been acknowledged. */
const KILL_AFTER = Math.floor(CALLS / 3);
/** Vessel splits of the 80% user share the configurations rotate through. */
const SPLITS = [
  [80],
  [40, 40],
  [60, 20],
  [20, 60],
  [50, 30],
  [10, 70],
  [30, 30, 20],
  [20, 20, 20, 20],
];

interface Call {
  body: Buffer;
  expectedId: string;
}

function log(message: string): void {
  process.stderr.write(`loadtest: ${message}\n`);
}

/** Distinct configurations (so ids differ), clearinghouse-shaped and multi-vessel by turns. */
function configOf(i: number, keys: string[]): BuildConfig {
  const key = (n: number) => keys[n % keys.length] as string;
  if (i % 2 === 0) {
    return {
      vessels: [{ percentage: 80, owner: `owner${i}`, users: ['user'] }],
      user_data: { [`owner${i}`]: { public_key: key(i) }, user: { public_key: key(i + 1) } },
    };
  }
  const split = SPLITS[i % SPLITS.length] as number[];
  const vessels = split.map((percentage, v) => ({
    percentage,
    owner: v === 0 ? `donor${i}` : `exp${v}`,
    users: v % 2 === 0 ? [`helper${i % 5}`] : [],
  }));
  const names = [...new Set(vessels.flatMap((v) => [v.owner, ...v.users]))];
  return {
    vessels,
    user_data: Object.fromEntries(names.map((name, n) => [name, { public_key: key(i + n) }])),
  };
}

interface Server {
  child: ChildProcess;
  port: number;
}

/**
 * Starts the compiled server (as `npm start` runs it) in its own process on a free loopback port.
 */
function startServer(dataDir: string, env: Record<string, string> = {}): Promise<Server> {
  // node itself (not a wrapper), in its own process group, so SIGKILL reaches every worker.
  const child = spawn(process.execPath, ['dist-node/server.mjs'], {
    cwd: PROJECT_ROOT,
    detached: true,
    env: {
      WORKERS: String(WORKERS),
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_REQUESTS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolvePort, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (match) resolvePort({ child, port: Number(match[1]) });
    });
    child.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
}

/** A child killed by a signal has no exit code, only a signal code. */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function stopServer(server: Server, signal: NodeJS.Signals): Promise<void> {
  if (hasExited(server.child)) return;
  const exited = new Promise((done) => server.child.once('exit', done));
  process.kill(-(server.child.pid as number), signal);
  await exited;
}

function post(agent: Agent, port: number, body: Buffer): Promise<string> {
  return new Promise((done, fail) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/xmlrpc/',
        method: 'POST',
        agent,
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

const BUILD_ID_IN_RESPONSE = /<name>build_id<\/name>\s*<value>(?:<string>)?([a-z0-9]{40})</;

interface LoadResult {
  acknowledged: string[];
  errors: number;
  latencies: number[];
  seconds: number;
}

/** `concurrency` clients take the calls in order; `onAck` lets the caller act mid-run. */
async function runLoad(
  port: number,
  calls: Call[],
  onAck?: (count: number) => void,
  tolerateFailures = false,
  concurrency = CONCURRENCY,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const acknowledged: string[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  async function client(): Promise<void> {
    while (next < calls.length) {
      const call = calls[next++] as Call;
      const t0 = performance.now();
      try {
        const xml = await post(agent, port, call.body);
        latencies.push(performance.now() - t0);
        const id = BUILD_ID_IN_RESPONSE.exec(xml)?.[1];
        if (id !== call.expectedId) {
          errors += 1;
          if (errors <= 3) log(`unexpected answer: ${xml.slice(0, 300)}`);
        } else {
          acknowledged.push(id);
          onAck?.(acknowledged.length);
        }
      } catch (error) {
        if (tolerateFailures) return;
        errors += 1;
        if (errors <= 3) log(`request failed: ${(error as Error).message}`);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { acknowledged, errors, latencies, seconds };
}

/** Ids whose get_urls does not answer with URLs. */
async function checkIds(port: number, ids: string[]): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const lost: string[] = [];
  let next = 0;
  async function client(): Promise<void> {
    while (next < ids.length) {
      const id = ids[next++] as string;
      try {
        const xml = await post(agent, port, Buffer.from(serializeMethodCall('get_urls', [id])));
        if (xml.includes('<fault>') || !xml.includes(`/${id}/installers/linux/`)) lost.push(id);
      } catch {
        lost.push(id);
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  agent.destroy();
  return lost;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (x: number, digits = 2) => Number(x.toFixed(digits));

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

/** The hostile calls: 40,000 distinct short names (~650 KB) and ~1 MB of 45,000 invalid ones. */
function hostileBodies(): Buffer[] {
  const digits = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const names = Array.from(
    { length: 40_000 },
    (_, i) =>
      `${digits[Math.floor(i / 1296) % 26]}${digits[Math.floor(i / 36) % 36]}${digits[i % 36]}${i >= 33_696 ? i : ''}`,
  );
  const invalid = Array.from({ length: 45_000 }, (_, i) => `_${String(i).padStart(5, '0')}`);
  return [vesselWithUsers(names), vesselWithUsers(invalid)];
}

/** HOSTILE_CLIENTS clients sending hostile calls back to back until `stop` resolves. */
async function hostileLoad(
  port: number,
  stop: Promise<unknown>,
): Promise<{ calls: number; faults: number; bytes: number; maxFaultBytes: number }> {
  const bodies = hostileBodies();
  const agent = new Agent({ keepAlive: true, maxSockets: HOSTILE_CLIENTS });
  let stopped = false;
  void stop.then(() => (stopped = true));
  const out = { calls: 0, faults: 0, bytes: 0, maxFaultBytes: 0 };
  async function client(offset: number): Promise<void> {
    for (let i = offset; !stopped; i++) {
      const body = bodies[i % bodies.length] as Buffer;
      const xml = await post(agent, port, body);
      out.calls += 1;
      out.bytes += body.length;
      if (xml.includes('<fault>')) out.faults += 1;
      out.maxFaultBytes = Math.max(out.maxFaultBytes, Buffer.byteLength(xml));
    }
  }
  await Promise.all(Array.from({ length: HOSTILE_CLIENTS }, (_, i) => client(i)));
  agent.destroy();
  return out;
}

/**
 * The old service's stress example: STRESS_CALLS build_installers calls sent at once, each on its
 * own connection, with the example's vessels; bob and carl have no key, so each call makes the
 * server generate two. The example's key for darren has e > n, which this builder refuses, so a
 * real key stands in. Resolves with the wall time and the calls not answered with two new pairs.
 */
async function stressExample(
  port: number,
  darrenKey: string,
): Promise<{ ms: number; failed: number }> {
  const body = Buffer.from(
    serializeMethodCall('build_installers', [
      [
        { percentage: 60, owner: 'alex', users: ['bob'] },
        { percentage: 20, owner: 'carl', users: ['darren'] },
      ],
      { alex: { public_key: '12345 54321' }, darren: { public_key: darrenKey } },
    ] as never),
  );
  const agent = new Agent({ keepAlive: false, maxSockets: STRESS_CALLS });
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: STRESS_CALLS }, () => post(agent, port, body).catch(() => '')),
  );
  const ms = performance.now() - started;
  agent.destroy();
  const failed = answers.filter(
    (xml) =>
      xml.includes('<fault>') ||
      !BUILD_ID_IN_RESPONSE.test(xml) ||
      xml.split('<name>private_key</name>').length !== 3,
  ).length;
  return { ms, failed };
}

/** Phase 4: the stress example with the default key-generation threads, and with one. */
async function stressPhase(work: string, darrenKey: string): Promise<Record<string, unknown>> {
  const servers = {
    default: await startServer(join(work, 'stress-default')),
    single: await startServer(join(work, 'stress-single'), { KEYGEN_CONCURRENCY: '1' }),
  };
  const health = (await (
    await fetch(`http://127.0.0.1:${servers.default.port}/healthz`)
  ).json()) as {
    keygen: { threads: number; queue_limit: number };
  };
  log(
    `phase 4: the stress example (${STRESS_CALLS} calls, 2 generated keys each), ${STRESS_RUNS} runs each with ${health.keygen.threads} threads and with 1, in turns`,
  );
  const times = { default: [] as number[], single: [] as number[] };
  let failed = 0;
  for (let run = 0; run <= STRESS_RUNS; run++) {
    for (const which of ['default', 'single'] as const) {
      const result = await stressExample(servers[which].port, darrenKey);
      failed += result.failed;
      log(`phase 4: ${which} ${run === 0 ? 'warm-up' : `run ${run}`}: ${result.ms.toFixed(0)} ms`);
      // The first run of each server starts its threads: reported apart.
      if (run > 0) times[which].push(result.ms);
    }
  }
  await stopServer(servers.default, 'SIGTERM');
  await stopServer(servers.single, 'SIGTERM');
  const wall = median(times.default);
  const single = median(times.single);
  return {
    stress_calls: STRESS_CALLS,
    stress_generated_keys_per_call: 2,
    stress_runs: STRESS_RUNS,
    stress_keygen_threads: health.keygen.threads,
    stress_keygen_queue_limit: health.keygen.queue_limit,
    stress_wall_ms: round(wall, 0),
    stress_single_thread_wall_ms: round(single, 0),
    stress_speedup: round(single / wall),
    stress_failed_calls: failed,
    stress_goal: `every call of the stress example answered with its keys under the default settings (no "busy"), and with ${health.keygen.threads} threads faster than with 1 when the machine has the cores`,
    stress_goal_met: failed === 0 && (health.keygen.threads === 1 || wall < single),
  };
}

async function main(): Promise<void> {
  const deployment = loadDeploymentSettings();
  log(`generating ${KEY_PAIRS} key pairs…`);
  const keys = (
    await Promise.all(Array.from({ length: KEY_PAIRS }, () => generateKeyPair(2048)))
  ).map((pair) => pair.publicKey);
  log(`preparing ${WARMUP} + ${CALLS} distinct calls…`);
  const prepared: Call[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const config = configOf(i, keys);
    const { resolved } = await resolveConfig(config, deployment);
    const args = config.user_data ? [config.vessels, config.user_data] : [config.vessels];
    prepared.push({
      body: Buffer.from(serializeMethodCall('build_installers', args as never), 'utf8'),
      expectedId: buildId(resolved),
    });
  }
  if (new Set(prepared.map((c) => c.expectedId)).size !== prepared.length)
    throw new Error('ids are not distinct');
  const warmup = prepared.slice(CALLS);
  const calls = prepared.slice(0, CALLS);

  const work = mkdtempSync(join(process.env.LOADTEST_DIR ?? tmpdir(), 'cib-loadtest-'));
  try {
    // Phase 1: steady load, then a restart and get_urls of every returned id.
    const dataDir = join(work, 'data');
    let server = await startServer(dataDir);
    log(
      `phase 1: ${WARMUP} untimed, then ${CALLS} calls, ${CONCURRENCY} clients, server pid ${server.child.pid}`,
    );
    const warm = await runLoad(server.port, warmup);
    const load = await runLoad(server.port, calls);
    await stopServer(server, 'SIGTERM');
    server = await startServer(dataDir);
    const lost = await checkIds(server.port, [...warm.acknowledged, ...load.acknowledged]);
    await stopServer(server, 'SIGTERM');
    const sorted = [...load.latencies].sort((a, b) => a - b);
    const results: Record<string, unknown> = {
      date: new Date().toISOString(),
      node: process.version,
      calls: CALLS,
      warmup_calls: WARMUP,
      concurrency: CONCURRENCY,
      server_workers: WORKERS,
      errors: warm.errors + load.errors,
      throughput_per_s: round(load.acknowledged.length / load.seconds, 0),
      p50_ms: round(percentile(sorted, 50)),
      p99_ms: round(percentile(sorted, 99)),
      max_ms: round(sorted[sorted.length - 1] ?? 0),
      lost_builds: lost.length,
    };
    log(JSON.stringify(results));

    // Phase 3: small calls alone, then the same number with hostile large calls in parallel.
    const hostileDir = join(work, 'hostile-data');
    server = await startServer(hostileDir);
    const small = calls.slice(0, Math.min(HOSTILE_SMALL_CALLS, calls.length));
    const half = Math.floor(small.length / 2);
    log(
      `phase 3: ${half} small calls alone, then ${small.length - half} with ${HOSTILE_CLIENTS} hostile clients`,
    );
    await runLoad(server.port, warmup.slice(0, 200), undefined, false, SMALL_CONCURRENCY);
    const alone = await runLoad(
      server.port,
      small.slice(0, half),
      undefined,
      false,
      SMALL_CONCURRENCY,
    );
    let finish!: () => void;
    const finished = new Promise<void>((done) => (finish = done));
    const hostile = hostileLoad(server.port, finished);
    const underAttack = await runLoad(
      server.port,
      small.slice(half),
      undefined,
      false,
      SMALL_CONCURRENCY,
    );
    finish();
    const attack = await hostile;
    await stopServer(server, 'SIGTERM');
    const aloneSorted = [...alone.latencies].sort((a, b) => a - b);
    const attackSorted = [...underAttack.latencies].sort((a, b) => a - b);
    const aloneP99 = percentile(aloneSorted, 99);
    const attackP99 = percentile(attackSorted, 99);
    Object.assign(results, {
      hostile_small_calls: underAttack.latencies.length,
      hostile_small_concurrency: SMALL_CONCURRENCY,
      hostile_alone_p50_ms: round(percentile(aloneSorted, 50)),
      hostile_alone_p99_ms: round(aloneP99),
      hostile_p50_ms: round(percentile(attackSorted, 50)),
      hostile_p99_ms: round(attackP99),
      hostile_errors: alone.errors + underAttack.errors,
      hostile_large_calls: attack.calls,
      hostile_large_faults: attack.faults,
      hostile_large_mb: round(attack.bytes / 1e6, 1),
      hostile_max_fault_bytes: attack.maxFaultBytes,
      hostile_goal: `small-call p99 with hostile calls in parallel at most ${HOSTILE_P99_GOAL_RATIO}x its p99 alone, every hostile call a fault`,
      hostile_p99_ratio: round(attackP99 / Math.max(aloneP99, 0.001)),
      hostile_goal_met:
        attackP99 <= HOSTILE_P99_GOAL_RATIO * aloneP99 && attack.faults === attack.calls,
    });
    log(JSON.stringify(results));

    // Phase 2: SIGKILL mid-load; every acknowledged build must survive intact.
    const killDir = join(work, 'kill-data');
    server = await startServer(killDir);
    log(`phase 2: SIGKILL after ${KILL_AFTER} acknowledged calls`);
    const victim = server;
    let killed = false;
    const killLoad = await runLoad(
      server.port,
      calls,
      (count) => {
        if (!killed && count >= KILL_AFTER) {
          killed = true;
          process.kill(-(victim.child.pid as number), 'SIGKILL');
        }
      },
      true,
    );
    if (!hasExited(victim.child)) await new Promise((done) => victim.child.once('exit', done));
    server = await startServer(killDir);
    const killLost = await checkIds(server.port, killLoad.acknowledged);
    await stopServer(server, 'SIGTERM');
    let corrupt = 0;
    for (const id of killLoad.acknowledged) {
      try {
        parseRecord(
          readFileSync(join(killDir, 'builds', id.slice(0, 2), `${id}.json`), 'utf8'),
          id,
        );
      } catch {
        corrupt += 1;
      }
    }
    const files = readdirSync(join(killDir, 'builds'), { recursive: true }) as string[];
    Object.assign(results, {
      kill_acknowledged: killLoad.acknowledged.length,
      kill_unacknowledged: CALLS - killLoad.acknowledged.length,
      kill_records_on_disk: files.filter((f) => f.endsWith('.json')).length,
      kill_temp_files_left: files.filter((f) => f.includes('.tmp-')).length,
      kill_lost_builds: killLost.length,
      kill_corrupt_records: corrupt,
    });
    log(JSON.stringify(results));

    Object.assign(results, await stressPhase(work, keys[0] as string));
    log(JSON.stringify(results));
    const out = resolve(PROJECT_ROOT, 'bench/shim.json');
    writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    console.log(JSON.stringify(results, null, 2));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
