import { randomBytes } from 'node:crypto';
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { serializeMethodCall } from '@foxglove/xmlrpc';
import { readdirSync, readFileSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customizeInstaller } from '../../src/core/archive/installer.ts';
import { buildId } from '../../src/core/buildid.ts';
import {
  MAX_USERS_PER_BUILD,
  resolveConfig,
  validateConfig,
  type BuildConfig,
} from '../../src/core/build-config.ts';
import { generateKeyPair } from '../../src/core/keygen.ts';
import { fingerprint } from '../../src/core/keys.ts';
import { describeProblems, errorsOf } from '../../src/core/problems.ts';
import { decodeShare, encodeShare } from '../../src/core/share.ts';
import { KeygenPool, type SlotGenerator } from '../../src/server/keygen-pool.ts';
import { MAX_CALL_VALUES, MAX_FAULT_PROBLEMS } from '../../src/server/xmlrpc.ts';
import { nodeVessels, parseVesselinfo, renderVesselinfo } from '../../src/core/vesselinfo.ts';
import {
  BASES_DIR,
  ROOT,
  runPython,
  startTestServer,
  type PythonOutput,
  type TestServer,
} from './helpers.ts';

const execFileAsync = promisify(execFile);

let server: TestServer;
let ownerKey: string;
let userKey: string;
const xmlrpcUrl = () => `${server.origin}/xmlrpc/`;

beforeAll(async () => {
  server = await startTestServer();
  const [owner, user] = await Promise.all([generateKeyPair(1024), generateKeyPair(1024)]);
  ownerKey = owner.publicKey;
  userKey = user.publicKey;
});
afterAll(() => server.stop());

/** What the core says about a configuration: the fault text the shim must carry. */
function coreMessage(config: unknown): string {
  return describeProblems(errorsOf(validateConfig(config, server.settings.deployment).problems));
}

async function resolvedOf(config: BuildConfig) {
  return (await resolveConfig(config, server.settings.deployment)).resolved;
}

function allRecordText(dataDir = server.dataDir): string {
  const root = join(dataDir, 'builds');
  return readdirSync(root)
    .flatMap((shard) =>
      readdirSync(join(root, shard)).map((f) => readFileSync(join(root, shard, f), 'utf8')),
    )
    .join('\n');
}

describe('the XML-RPC shim, called with Python xmlrpc.client', () => {
  let out: PythonOutput;
  beforeAll(async () => {
    out = await runPython('xmlrpc_api.py', [xmlrpcUrl(), ownerKey, userKey]);
  });

  it('answers the clearinghouse call with the core build id, one URL per platform and the keys', async () => {
    const config = {
      vessels: [{ percentage: 80, owner: 'owner', users: ['user'] }],
      user_data: { owner: { public_key: ownerKey }, user: { public_key: userKey } },
    };
    const id = buildId(await resolvedOf(config));
    expect(out.api_version).toBe('2.0');
    expect(out.clearinghouse.build_id).toBe(id);
    expect(out.clearinghouse.installers).toEqual({
      linux: `${server.publicUrl}/${id}/installers/linux/`,
      mac: `${server.publicUrl}/${id}/installers/mac/`,
      windows: `${server.publicUrl}/${id}/installers/windows/`,
      android: `${server.publicUrl}/${id}/installers/android/`,
    });
    expect(out.clearinghouse.users).toEqual({
      owner: { public_key: ownerKey },
      user: { public_key: userKey },
    });
    expect(out.clearinghouse_again).toEqual(out.clearinghouse);
  });

  it('returns the same URLs from get_urls for a stored build', () => {
    expect(out.get_urls).toEqual(out.clearinghouse.installers);
  });

  it('generates keys for users without one and never stores the private keys', () => {
    const users = out.generated.users as Record<
      string,
      { public_key: string; private_key: string }
    >;
    expect(Object.keys(users)).toEqual(['alice', 'bob']);
    for (const user of Object.values(users)) {
      expect(user.public_key).toMatch(/^\d+ \d+$/);
      expect(user.private_key).toMatch(/^\d+ \d+ \d+$/);
    }
    const stored = allRecordText();
    expect(stored).toContain(users.alice!.public_key);
    for (const user of Object.values(users)) expect(stored).not.toContain(user.private_key);
  });

  it("faults on every one of the old service's negative cases, with the core's messages", () => {
    expect(out.api_version_arg.faultString).toBe('api_version takes no arguments, not 1.');
    expect(out.total_100.faultString).toBe(
      coreMessage({
        vessels: [{ percentage: 100, owner: 'owner' }],
        user_data: { owner: { public_key: ownerKey } },
      }),
    );
    expect(out.total_100.faultString).toContain('100%');
    expect(out.no_owner.faultString).toBe(
      coreMessage({
        vessels: [{ percentage: 80, users: ['user'] }],
        user_data: { user: { public_key: userKey } },
      }),
    );
    expect(out.no_owner.faultString).toContain('vessels[0].owner');
    expect(out.key_invalid.faultString).toBe(
      coreMessage({
        vessels: [{ percentage: 80, owner: 'owner' }],
        user_data: { owner: { public_key: 'INVALID' } },
      }),
    );
    expect(out.key_invalid.faultString).toContain('user_data.owner.public_key');
    for (const [label, sentence] of [
      ['key_exponent_one', 'exponent e is 1'],
      ['key_exponent_even', 'exponent e is even'],
      ['key_modulus_even', 'modulus n is even'],
    ]) {
      expect(out[label!].faultCode).toBe(-32602);
      expect(out[label!].faultString).toContain(
        `user_data.owner.public_key: The public key's ${sentence}`,
      );
    }
    expect(out.get_urls_invalid.faultString).toContain('"INVALID" is not a build id');
    expect(out.get_urls_unknown.faultString).toBe(`get_urls: there is no build ${'0'.repeat(40)}.`);
    expect(out.percentage_15.faultString).toBe(
      coreMessage({
        vessels: [
          { percentage: 15, owner: 'owner' },
          { percentage: 65, owner: 'owner' },
        ],
      }),
    );
    expect(out.bad_name.faultString).toContain('"_x"');
    expect(out.no_args.faultString).toBe(
      'build_installers takes 1 or 2 arguments (vessels, user_data), not 0.',
    );
    expect(out.unknown_method.faultString).toContain('no method "delete_everything"');
  });
});

describe('installers downloaded by a plain HTTP client', () => {
  let out: PythonOutput;
  let work: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cib-downloads-'));
    out = await runPython('installers.py', [xmlrpcUrl(), BASES_DIR, work]);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('serves every platform as an archive holding exactly the vesselinfo the core renders', async () => {
    const resolved = await resolvedOf({
      vessels: [
        { percentage: 60, owner: 'alice', users: ['bob'] },
        { percentage: 20, owner: 'carl' },
      ],
      user_data: {
        alice: { public_key: '12345 54321' },
        bob: { public_key: '3 1000003' },
        carl: { public_key: out.users.carl.public_key },
      },
    });
    expect(out.build_id).toBe(buildId(resolved));
    const expected = renderVesselinfo(resolved);
    const types = {
      linux: 'application/gzip',
      mac: 'application/gzip',
      windows: 'application/zip',
      android: 'application/zip',
    };
    expect(Object.keys(out.platforms).sort()).toEqual(['android', 'linux', 'mac', 'windows']);
    for (const [platform, got] of Object.entries<PythonOutput>(out.platforms)) {
      expect(got.status).toBe(200);
      expect(got.content_type).toBe(types[platform as keyof typeof types]);
      expect(got.content_length).toBe(got.size);
      expect(got.disposition).toMatch(/^attachment; filename="seattle_[a-z]+\.(tgz|zip)"$/);
      expect(got.vesselinfo).toBe(expected);
      expect(got.extracted_vesselinfo).toBe(expected);
      // Exactly one entry added to the base: the vesselinfo.
      const added = (got.names as string[]).filter(
        (n) => !(got.base_names as string[]).includes(n),
      );
      expect(added).toEqual(['seattle/seattle_repy/vesselinfo']);
      expect((got.names as string[]).length).toBe((got.base_names as string[]).length + 1);
    }
  });

  it("passes the demo linux installer's install.sh --dry-run", () => {
    expect(out.dry_run.status).toBe(0);
    const text = out.platforms.linux.vesselinfo as string;
    for (const v of nodeVessels(parseVesselinfo(text).vessels)) {
      expect(out.dry_run.stdout).toContain(
        `${v.name} ${v.percent}% ports ${v.ports[0]}-${v.ports[1]} owner ${fingerprint(v.owner)}`,
      );
    }
  });

  it('sends the bytes customizeInstaller makes from the base', async () => {
    const response = await fetch(`${server.origin}/${out.build_id}/installers/windows/`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const manifest = JSON.parse(readFileSync(join(BASES_DIR, 'manifest.json'), 'utf8'));
    const entry = manifest.bases.find((b: { platform: string }) => b.platform === 'windows');
    const direct = await customizeInstaller({
      base: new Uint8Array(readFileSync(join(BASES_DIR, entry.file))),
      vesselinfo: out.platforms.windows.vesselinfo,
      platform: 'windows',
      expectSha256: entry.sha256,
    });
    expect(Buffer.from(bytes).equals(Buffer.from(direct))).toBe(true);
  });

  it("redirects a browser to the page's installer route with the build's share code", async () => {
    const response = await fetch(`${server.origin}/${out.build_id}/installers/mac/`, {
      headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    const location = response.headers.get('location') ?? '';
    const match = /^(.*)\/#\/s\/([^/]+)\/mac$/.exec(location);
    expect(match?.[1]).toBe(server.publicUrl);
    const decoded = decodeShare(match?.[2] ?? '', server.settings.deployment);
    expect(decoded.resolved && buildId(decoded.resolved)).toBe(out.build_id);
  });

  it("redirects the build's share page into the page", async () => {
    const response = await fetch(`${server.origin}/${out.build_id}/`, { redirect: 'manual' });
    expect(response.status).toBe(303);
    const record = JSON.parse(
      readFileSync(
        join(server.dataDir, 'builds', out.build_id.slice(0, 2), `${out.build_id}.json`),
        'utf8',
      ),
    );
    expect(response.headers.get('location')).toBe(
      `${server.publicUrl}/#/s/${encodeShare(record.resolved)}`,
    );
  });

  it('answers an unknown platform with 404 and a sentence', async () => {
    const response = await fetch(`${server.origin}/${out.build_id}/installers/beos/`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('no platform "beos"');
  });
});

describe('hostile and malformed requests', () => {
  let out: PythonOutput;
  beforeAll(async () => {
    out = await runPython('hostile.py', [server.origin, '/']);
  });

  it('refuses DTDs and entity declarations with a fault, never expanding them', () => {
    for (const name of ['doctype', 'external_entity', 'billion_laughs']) {
      expect(out[name].status).toBe(200);
      expect(out[name].faultCode).toBe(-32600);
      expect(out[name].faultString).toContain('DOCTYPE or ENTITY');
    }
  });

  it('faults on deep nesting, bad encodings, malformed XML, wrong methods, types and counts', () => {
    expect(out.deep_nesting.faultString).toContain('more than 32 deep');
    expect(out.not_utf8.faultString).toContain('not valid UTF-8');
    expect(out.declared_latin1.faultString).toContain('only UTF-8');
    for (const name of ['malformed', 'not_xml', 'empty']) {
      expect(out[name].faultCode).toBe(-32700);
      expect(out[name].faultString).toContain('not a well-formed XML-RPC methodCall');
    }
    expect(out.unknown_method.faultCode).toBe(-32601);
    // Markup in echoed input survives the trip as text.
    expect(out.markup_in_fault.faultString).toContain('"a<b>&c\u00e9"');
    expect(out.wrong_type_vessels.faultString).toContain('vessels (argument 1) must be an array');
    expect(out.wrong_type_user_data.faultString).toContain(
      'user_data (argument 2) must be a struct',
    );
    expect(out.too_many_args.faultString).toContain('not 3');
    expect(out.get_urls_int.faultString).toContain('build_id (argument 1) must be a string');
    expect(out.nil_argument.faultString).toContain('nil is not used');
    expect(out.proto_member.faultString).toContain('__proto__');
  });

  it('answers bodies over the limit with 413, declared or streamed', () => {
    expect(out.huge_declared.status).toBe(413);
    expect(out.huge_chunked.status).toBe(413);
    expect(out.huge_chunked.body).toContain('larger than 1048576 bytes');
  });

  it('answers 40,000 user names, or a megabyte of them, with one clear fault', () => {
    for (const name of ['forty_thousand_names', 'megabyte_of_names']) {
      const got = out[name];
      expect(got.body_bytes, name).toBeGreaterThan(600_000);
      expect(got.faultCode, name).toBe(-32602);
      expect(got.faultString, name).toBe(
        `The call holds more than ${MAX_CALL_VALUES} values; a build has at most ${MAX_USERS_PER_BUILD} users, so no call of this API needs that many.`,
      );
    }
  });

  it(`refuses more than ${MAX_USERS_PER_BUILD} users per build, naming the field`, () => {
    expect(out.too_many_users.faultCode).toBe(-32602);
    expect(out.too_many_users.faultString).toBe(
      `vessels: The build names ${MAX_USERS_PER_BUILD + 1} different users; a build has at most ${MAX_USERS_PER_BUILD}.`,
    );
  });

  it('lists the first 20 problems of a fault, then how many more', () => {
    const lines = (out.many_problems.faultString as string).split('\n');
    expect(lines).toHaveLength(MAX_FAULT_PROBLEMS + 1);
    expect(lines[0]).toBe(
      'vessels[0].users[0]: The user name "_00000" is not valid: it starts with "_"; the first character must be a letter or a digit.',
    );
    expect(lines[MAX_FAULT_PROBLEMS]).toBe(`… and ${4000 - MAX_FAULT_PROBLEMS} more problems.`);
    expect(out.long_name.faultString).toBe(
      `vessels[0].users[0]: The user name "${'n'.repeat(60)}…" is not valid: it has 900000 characters; a user name has 3 to 40.`,
    );
  });

  it('refuses what a cross-site form can send with 415, and takes what Python sends', () => {
    for (const name of [
      'form_text_plain',
      'form_urlencoded',
      'form_multipart',
      'form_text_plain_upper',
    ]) {
      expect(out[name].status, name).toBe(415);
      expect(out[name].body, name).toContain('XML-RPC calls are sent as text/xml');
    }
    expect(out.python_content_type).toBe('text/xml');
    expect(out.python_client).toBe('2.0');
  });

  it('refuses path traversal and malformed ids with 400 or 404', () => {
    for (const name of [
      'traversal_encoded',
      'traversal_encoded_upper',
      'traversal_dotdot',
      'traversal_backslash',
      'traversal_in_id',
      'id_uppercase',
      'bad_percent',
    ]) {
      expect(out[name].status, name).toBe(400);
    }
    expect(out.id_unknown.status).toBe(404);
    expect(out.share_unknown.status).toBe(404);
    expect(out.data_dir_probe.status).toBe(404);
    expect(out.put_xmlrpc.status).toBe(405);
    expect(out.delete_root.status).toBe(405);
  });

  it('stays up afterwards', () => {
    expect(out.still_up).toBe('2.0');
  });

  it('answers a client that stops sending its body with 408', async () => {
    const quick = await startTestServer({ BODY_TIMEOUT_MS: '200' });
    try {
      const url = new URL(quick.origin);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(
            'POST /xmlrpc/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 100\r\n\r\n<?xml',
          );
        });
        let text = '';
        socket.on('data', (chunk) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(reply).toContain('did not arrive within 200 ms');
    } finally {
      await quick.stop();
    }
  });
});

/** An odd number of exactly `bits` bits with random digits (so the share codec cannot shrink it). */
function randomModulus(bits: number): bigint {
  const n = BigInt(`0x${randomBytes(bits / 8).toString('hex')}`);
  return n | (1n << BigInt(bits - 1)) | 1n;
}

describe('the store heals and can be cleaned', () => {
  it('detects a damaged record, and the next build_installers rewrites it so its URLs work', async () => {
    const out = await runPython('heal.py', [xmlrpcUrl(), server.dataDir, ownerKey]);
    expect(Object.keys(out)).toEqual(['truncated', 'garbled', 'empty']);
    for (const [damage, got] of Object.entries<PythonOutput>(out)) {
      expect(got.damaged_differs, damage).toBe(true);
      expect(got.damaged_status, damage).toBe(503);
      expect(got.damaged_body, damage).toContain('is damaged; calling build_installers again');
      expect(got.damaged_get_urls, damage).toContain('is damaged');
      expect(got.same_id, damage).toBe(true);
      expect(got.same_urls, damage).toBe(true);
      expect(got.record_restored, damage).toBe(true);
      expect(got.get_urls, damage).toBe(true);
      for (const platform of ['android', 'linux', 'mac', 'windows']) {
        expect(got.downloads[platform], `${damage} ${platform}`).toEqual({
          status: 200,
          owner_line: true,
        });
      }
    }
  });
});

describe('cib prune-builds with the server running', () => {
  async function build(owner: string): Promise<string> {
    const body = serializeMethodCall('build_installers', [
      [{ percentage: 80, owner }],
      { [owner]: { public_key: ownerKey } },
    ] as never);
    const xml = await (
      await fetch(xmlrpcUrl(), { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body })
    ).text();
    const id = /<name>build_id<\/name><value><string>([a-z0-9]{40})</.exec(xml)?.[1];
    if (!id) throw new Error(`no build id in ${xml.slice(0, 300)}`);
    return id;
  }
  async function known(id: string): Promise<boolean> {
    const body = serializeMethodCall('get_urls', [id]);
    const response = await fetch(xmlrpcUrl(), {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body,
    });
    const xml = await response.text();
    if (response.status !== 200) throw new Error(`get_urls: HTTP ${response.status}`);
    return !xml.includes('<fault>');
  }
  const fileOf = (id: string) => join(server.dataDir, 'builds', id.slice(0, 2), `${id}.json`);

  it('deletes builds not asked for within the age, while builds asked for meanwhile survive', async () => {
    const names = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const revived = await Promise.all(names('revived', 10).map(build));
    const stale = await Promise.all(names('stale', 10).map(build));
    const fresh = await Promise.all(names('fresh', 5).map(build));
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    for (const id of [...revived, ...stale]) utimesSync(fileOf(id), longAgo, longAgo);
    // A crash's leftovers: a temp file of a process that no longer runs.
    const shard = join(server.dataDir, 'builds', fresh[0]!.slice(0, 2));
    writeFileSync(join(shard, '.tmp-999999999-abcdef-leftover'), '{"partial');

    // The prune runs in its own process while the revived builds are asked for again.
    const prune = execFileAsync(process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'prune-builds',
      '--data-dir',
      server.dataDir,
      '--older-than',
      '30d',
    ]);
    const again = await Promise.all(names('revived', 10).map(build));
    const { stdout } = await prune;
    expect(again).toEqual(revived);

    const removed = Number(
      /^removed (\d+) build records older than 30d, kept (\d+)/.exec(stdout)?.[1],
    );
    expect(removed).toBeGreaterThanOrEqual(10);
    expect(removed).toBeLessThanOrEqual(20);
    for (const id of stale) expect(await known(id), `stale ${id}`).toBe(false);
    for (const id of [...revived, ...fresh]) expect(await known(id), `kept ${id}`).toBe(true);
    expect(readdirSync(shard).filter((name) => name.startsWith('.'))).toEqual([]);
    // A pruned build comes back when asked for again.
    expect(await build('stale0')).toBe(stale[0]);
    expect(await known(stale[0]!)).toBe(true);
  });

  it('refuses an age it cannot read, naming the option', async () => {
    const failed = await execFileAsync(process.execPath, [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'prune-builds',
      '--data-dir',
      server.dataDir,
      '--older-than',
      '30 days',
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('--older-than must be');
  });
});

describe('HTTP hardening', () => {
  /** A build_installers call as Python's xmlrpc.client would send it. */
  async function rpc(body: string): Promise<Response> {
    return fetch(xmlrpcUrl(), { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body });
  }

  it('forbids framing of the page and of every other answer', async () => {
    for (const path of ['/', '/xmlrpc/', '/healthz', '/nowhere']) {
      const response = await fetch(`${server.origin}${path}`);
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('content-security-policy'), path).toBe("frame-ancestors 'none'");
    }
  });

  it('sends XML-RPC answers, which may carry private keys, with Cache-Control: no-store', async () => {
    const response = await rpc(
      `<?xml version="1.0"?><methodCall><methodName>build_installers</methodName><params><param><value><array><data><value><struct><member><name>percentage</name><value><int>80</int></value></member><member><name>owner</name><value>fresh</value></member></struct></value></data></array></value></param></params></methodCall>`,
    );
    expect(await response.text()).toContain('<name>private_key</name>');
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('redirects a build with many large keys to the short route, under 4 KB', async () => {
    // Twenty users with 4096-bit moduli: their share link alone is over 15 KB.
    const users = Array.from({ length: 20 }, (_, i) => `user${i}`);
    const userData = Object.fromEntries(
      users.map((name) => [name, { public_key: `65537 ${randomModulus(4096)}` }]),
    );
    const config = { vessels: [{ percentage: 80, owner: 'user0', users }], user_data: userData };
    const id = buildId(await resolvedOf(config));
    const xml = await runPython('xmlrpc_call.py', [
      xmlrpcUrl(),
      'build_installers',
      JSON.stringify([config.vessels, config.user_data]),
    ]);
    expect(xml.result.build_id).toBe(id);
    const longLink = `${server.publicUrl}/#/s/${encodeShare(await resolvedOf(config))}/mac`;
    expect(longLink.length).toBeGreaterThan(15_000);

    const browser = await fetch(`${server.origin}/${id}/installers/mac/`, {
      headers: { Accept: 'text/html' },
      redirect: 'manual',
    });
    expect(browser.status).toBe(303);
    const location = browser.headers.get('location') ?? '';
    expect(location).toBe(`${server.publicUrl}/#/b/${id}/mac`);
    expect(location.length).toBeLessThan(4096);
    const share = await fetch(`${server.origin}/${id}/`, { redirect: 'manual' });
    expect(share.headers.get('location')).toBe(`${server.publicUrl}/#/b/${id}`);

    const record = await (await fetch(`${server.origin}/${id}/record.json`)).json();
    expect(record.build_id).toBe(id);
    const decoded = decodeShare(record.share, server.settings.deployment);
    expect(decoded.resolved && buildId(decoded.resolved)).toBe(id);
    expect((await fetch(`${server.origin}/${'0'.repeat(40)}/record.json`)).status).toBe(404);
  });
});

describe('the key-generation queue', () => {
  it('queues up to its bound, faults "busy" beyond it and drops calls whose client has gone away', async () => {
    // Every key is held until busy.py says "release", so the queue's states come in a fixed order.
    let released = false;
    const held: (() => void)[] = [];
    const generateOn: SlotGenerator = async (_slot, bits) => {
      if (!released) await new Promise<void>((resolve) => held.push(resolve));
      return generateKeyPair(bits);
    };
    const release = () => {
      released = true;
      for (const resume of held.splice(0)) resume();
    };
    const small = await startTestServer(
      { DEFAULT_KEY_BITS: '1024' },
      { keygen: new KeygenPool({ threads: 1, queueLimit: 1, generateOn }) },
    );
    try {
      const python = spawn('python3', [join(ROOT, 'tests/server/python/busy.py'), small.origin], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      python.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('release\n')) release();
      });
      const code = await new Promise((resolve) => python.once('close', resolve));
      release();
      expect(code).toBe(0);
      const out = JSON.parse(stdout.trim().split('\n').at(-1) as string) as PythonOutput;
      // A's key held the one thread while B queued and left, C queued and D came.
      expect(out.steps).toEqual(['A generating', 'B queued', 'B dropped', 'C queued', 'idle']);
      expect(out.d_waited).toBe(false);
      expect(out.d.faultCode).toBe(-32400);
      expect(out.d.faultString).toContain('busy');
      expect(out.d.faultString).toContain('try again');
      expect(out.a.keys).toBe(1);
      expect(out.c.keys).toBe(1);
      // B's work never happened: no record of it, and A's and C's are stored.
      const records = allRecordText(small.dataDir);
      expect(records).not.toContain('bravo');
      expect(records).toContain('alpha');
      expect(records).toContain('charlie');
    } finally {
      release();
      await small.stop();
    }
  });

  it('takes its size from KEYGEN_CONCURRENCY and KEYGEN_QUEUE, and reports it in /healthz', async () => {
    const sized = await startTestServer({ KEYGEN_CONCURRENCY: '3', KEYGEN_QUEUE: '7' });
    try {
      const health = (await (await fetch(`${sized.origin}/healthz`)).json()) as PythonOutput;
      expect(health.keygen).toEqual({
        threads: 3,
        queue_limit: 7,
        running: 0,
        queued: 0,
        calls: 0,
      });
    } finally {
      await sized.stop();
    }
  });
});

describe('pages, health and sub-paths', () => {
  it('serves the page, the base-installer manifest and a human page at GET /xmlrpc/', async () => {
    const page = await fetch(`${server.origin}/`);
    expect(await page.text()).toContain('cib test page');
    const manifest = await fetch(`${server.origin}/base-installers/manifest.json`);
    expect(await manifest.json()).toEqual(
      JSON.parse(readFileSync(join(BASES_DIR, 'manifest.json'), 'utf8')),
    );
    const human = await fetch(`${server.origin}/xmlrpc/`);
    expect(human.headers.get('content-type')).toContain('text/html');
    expect(await human.text()).toContain(`<a href="${server.publicUrl}/">interactive builder</a>`);
  });

  it('reports healthy when the page is built and DATA_DIR is writable', async () => {
    const response = await fetch(`${server.origin}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      checks: { page: 'ok', data_dir: 'ok' },
    });
  });

  it('reports 503 when the page is missing or DATA_DIR cannot be written', async () => {
    const blocker = join(server.dir, 'a-file');
    writeFileSync(blocker, 'not a folder');
    const broken = await startTestServer({
      DATA_DIR: join(blocker, 'data'),
      DIST_DIR: join(server.dir, 'nowhere'),
    });
    try {
      const response = await fetch(`${broken.origin}/healthz`);
      expect(response.status).toBe(503);
      const body = await response.json();
      expect(body.status).toBe('unavailable');
      expect(body.checks.page).toContain('missing');
      expect(body.checks.data_dir).toContain('not writable');
    } finally {
      await broken.stop();
    }
  });

  it('mounts everything under BASE_PATH and puts PUBLIC_URL into returned URLs', async () => {
    const mounted = await startTestServer({
      BASE_PATH: '/cib',
      PUBLIC_URL: 'https://builder.example.org/cib/',
    });
    try {
      expect(mounted.publicUrl).toBe('https://builder.example.org/cib');
      const out = await runPython('xmlrpc_api.py', [
        `${mounted.origin}/cib/xmlrpc/`,
        ownerKey,
        userKey,
      ]);
      const id = out.clearinghouse.build_id as string;
      expect(out.get_urls.linux).toBe(`https://builder.example.org/cib/${id}/installers/linux/`);
      const direct = await fetch(`${mounted.origin}/cib/${id}/installers/linux/`);
      expect(direct.headers.get('content-type')).toBe('application/gzip');
      expect((await fetch(`${mounted.origin}/xmlrpc/`)).status).toBe(404);
      expect((await fetch(`${mounted.origin}/cib/healthz`)).status).toBe(200);
      expect(await (await fetch(`${mounted.origin}/cib/`)).text()).toContain('cib test page');
    } finally {
      await mounted.stop();
    }
  });
});
