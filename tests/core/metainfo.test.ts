import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildMetainfo,
  isListedInMetainfo,
  METAINFO_DEFAULT_LIFETIME_SECONDS,
  verifyMetainfo,
} from '../../src/core/metainfo.ts';
import {
  parsePrivateKey,
  parsePublicKey,
  type PrivateKey,
  type PublicKey,
} from '../../src/core/keys.ts';
import { CibError } from '../../src/core/problems.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PUBLIC_FILE = join(ROOT, 'demo/update-keys/demo.publickey');
const publicKey = parsePublicKey(readFileSync(PUBLIC_FILE, 'utf8')).key as PublicKey;
const privateKey = parsePrivateKey(
  readFileSync(join(ROOT, 'demo/update-keys/demo.privatekey'), 'utf8'),
).key as PrivateKey;
const keys = { publicKey, privateKey };
const VERIFIER = join(ROOT, 'tests/python/verify_metainfo.py');

const encode = (text: string) => new TextEncoder().encode(text);
const sha1Hex = (data: Uint8Array | string) => createHash('sha1').update(data).digest('hex');
const TIMESTAMP = 1_735_732_800;

const files = [
  { path: 'nmmain.py', data: encode('print("demo")\n') },
  { path: 'emulcomm.py', data: encode('x = 1\n') },
  { path: 'nmmain.pyc', data: encode('compiled') },
  { path: 'notes.swp', data: encode('swap') },
  { path: 'generated_repy.py', data: encode('translated') },
  { path: 'sub/dir/data.txt', data: new Uint8Array([0, 1, 2, 255]) },
];

const scratch = mkdtempSync(join(tmpdir(), 'cib-metainfo-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runVerifier(text: string, extra: string[] = []): { status: number; output: string } {
  const file = join(scratch, `metainfo-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  try {
    const output = execFileSync('python3', [VERIFIER, file, PUBLIC_FILE, ...extra], {
      encoding: 'utf8',
    });
    return { status: 0, output };
  } catch (error) {
    const failure = error as { status: number; stdout: string };
    return { status: failure.status, output: failure.stdout };
  }
}

describe('buildMetainfo', () => {
  const text = buildMetainfo(files, keys, TIMESTAMP);

  it('lists every program file as "path sha1 size", sorted, skipping .pyc, .swp and *_repy.py', () => {
    const list = text.slice(0, text.indexOf('\n\n!'));
    expect(list.split('\n')).toEqual([
      `emulcomm.py ${sha1Hex('x = 1\n')} 6`,
      `nmmain.py ${sha1Hex('print("demo")\n')} 14`,
      `sub/dir/data.txt ${sha1Hex(new Uint8Array([0, 1, 2, 255]))} 4`,
    ]);
  });

  it('appends the block as "\\n!key!timestamp!expiration!None!None! signature" after the newline-ended list', () => {
    const expiration = TIMESTAMP + 30 * 24 * 3600;
    expect(METAINFO_DEFAULT_LIFETIME_SECONDS).toBe(2_592_000);
    const block = `\n\n!${publicKey.e} ${publicKey.n}!${TIMESTAMP}!${expiration}!None!None! `;
    expect(text).toContain(`data.txt ${sha1Hex(new Uint8Array([0, 1, 2, 255]))} 4${block}`);
    expect(text).toMatch(/! [0-9]+$/);
  });

  it('signs 0x01 || sha1(text before the last "!") so that c^e mod n recovers it', () => {
    const signed = text.slice(0, text.lastIndexOf('!'));
    const c = BigInt(text.slice(text.lastIndexOf('!') + 2));
    let recovered = 1n;
    let base = c % publicKey.n;
    for (let e = publicKey.e; e > 0n; e >>= 1n) {
      if (e & 1n) recovered = (recovered * base) % publicKey.n;
      base = (base * base) % publicKey.n;
    }
    expect(recovered.toString(16)).toBe('1' + sha1Hex(signed));
  });

  it('uses the given expiration instead of the 30-day default', () => {
    const custom = buildMetainfo(files, keys, TIMESTAMP, TIMESTAMP + 5);
    expect(custom).toContain(`!${TIMESTAMP}!${TIMESTAMP + 5}!None!None! `);
  });

  it('is reproducible: the same files, key and time give the same text', () => {
    expect(buildMetainfo([...files].reverse(), keys, TIMESTAMP)).toBe(text);
  });

  it('is accepted by the independent Python 3 verifier', () => {
    const result = runVerifier(text);
    expect(result.output).toContain('signature ok');
    expect(result.output).toContain('3 files listed');
    expect(result.status).toBe(0);
  });

  it('is refused by the Python verifier once one byte of the list changes', () => {
    const tampered = text.replace('nmmain.py', 'nmmain.pz');
    const result = runVerifier(tampered);
    expect(result.output).toContain('bad signature');
    expect(result.status).toBe(1);
  });

  it('refuses paths the line format cannot carry', () => {
    for (const path of ['has space.py', 'bang!.py', '../up.py', '/abs.py', 'a//b.py', 'dir/']) {
      expect(() => buildMetainfo([{ path, data: encode('') }], keys, TIMESTAMP)).toThrow(
        expect.objectContaining({ code: 'metainfo.path.invalid' }),
      );
    }
  });

  it('refuses a key too small to sign a 20-byte digest in one chunk', () => {
    const toy = { publicKey: { e: 3n, n: 3233n }, privateKey: { d: 2753n, p: 61n, q: 53n } };
    let caught: unknown;
    try {
      buildMetainfo(files, toy, TIMESTAMP);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CibError);
    expect((caught as CibError).code).toBe('metainfo.key.too-small');
  });

  it('decides what is listed by the docs/formats.md#signed-metainfo exclusions', () => {
    expect(
      ['a.py', 'a.pyc', 'a.swp', 'x_repy.py', 'repy.py', 'metainfo', 'sub/metainfo'].map(
        isListedInMetainfo,
      ),
    ).toEqual([true, false, false, false, true, false, true]);
  });
});

describe('verifyMetainfo', () => {
  const text = buildMetainfo(files, keys, TIMESTAMP);

  it('accepts a metainfo it wrote and returns the list, timestamp and expiration', () => {
    const check = verifyMetainfo(text, publicKey);
    expect(check.problems).toEqual([]);
    expect(check.valid).toBe(true);
    expect(check.entries.map((e) => e.path)).toEqual([
      'emulcomm.py',
      'nmmain.py',
      'sub/dir/data.txt',
    ]);
    expect(check.entries[1]).toEqual({
      path: 'nmmain.py',
      sha1: sha1Hex('print("demo")\n'),
      size: 14,
    });
    expect(check.timestamp).toBe(TIMESTAMP);
    expect(check.expiration).toBe(TIMESTAMP + METAINFO_DEFAULT_LIFETIME_SECONDS);
  });

  it('refuses a changed list, a changed signature and another key', () => {
    expect(
      verifyMetainfo(text.replace(' 14\n', ' 15\n'), publicKey).problems.map((p) => p.code),
    ).toEqual(['metainfo.signature.bad']);
    const lastDigit = text.at(-1) === '1' ? '2' : '1';
    expect(verifyMetainfo(text.slice(0, -1) + lastDigit, publicKey).valid).toBe(false);
    const other = { e: publicKey.e, n: publicKey.n + 2n };
    expect(verifyMetainfo(text, other).problems.map((p) => p.code)).toContain(
      'metainfo.signer.mismatch',
    );
  });

  it('reports text without a signature block as malformed', () => {
    const check = verifyMetainfo('nmmain.py abc 3\n', publicKey);
    expect(check.valid).toBe(false);
    expect(check.problems[0]?.code).toBe('metainfo.malformed');
  });

  it('warns, without failing, when the signature has expired at the given time', () => {
    const check = verifyMetainfo(
      text,
      publicKey,
      TIMESTAMP + METAINFO_DEFAULT_LIFETIME_SECONDS + 1,
    );
    expect(check.valid).toBe(true);
    expect(check.problems).toEqual([
      expect.objectContaining({ code: 'metainfo.expired', severity: 'warning' }),
    ]);
  });
});
