import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPublicKey } from '../../src/core/keyimport.ts';
import { parsePublicKey } from '../../src/core/keys.ts';
import { RESERVED_KEY_FIXTURE } from '../support/tools.ts';

// Every key here is made by the real tools (OpenSSL, OpenSSH) in a temporary folder, and the
// numbers we import are compared with what `openssl … -text` prints, not with our own output.

let dir: string;
const file = (name: string) => join(dir, name);
const read = (name: string) => readFileSync(file(name), 'utf8');
const run = (tool: string, args: string[], input?: string) =>
  execFileSync(tool, args, { cwd: dir, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
const reservedKey = RESERVED_KEY_FIXTURE;

/** Reads e and n from `openssl rsa -pubin -text -noout` (short exponents inline, long ones as hex lines). */
function opensslNumbers(spkiPem: string): string {
  const text = run('openssl', ['rsa', '-pubin', '-text', '-noout'], spkiPem);
  const hexBlock = (label: string) => {
    const match = new RegExp(`${label}:\\s*\\n((?:\\s+[0-9a-f:]+\\n?)+)`).exec(text);
    return match ? BigInt('0x' + match[1]!.replace(/[\s:]/g, '')) : undefined;
  };
  const n = hexBlock('Modulus');
  const e = /Exponent: (\d+) \(0x[0-9a-f]+\)/.exec(text)?.[1] ?? hexBlock('Exponent')?.toString();
  if (n === undefined || e === undefined) throw new Error(`cannot read openssl output:\n${text}`);
  return `${e} ${n}`;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cib-keyimport-'));
  run('openssl', ['genrsa', '-out', 'rsa.pem', '2048']);
  run('openssl', ['rsa', '-in', 'rsa.pem', '-pubout', '-out', 'spki.pem']);
  run('openssl', ['rsa', '-in', 'rsa.pem', '-RSAPublicKey_out', '-out', 'pkcs1.pem']);
  run('openssl', ['genrsa', '-3', '-out', 'e3.pem', '1024']);
  run('openssl', ['rsa', '-in', 'e3.pem', '-pubout', '-out', 'e3_spki.pem']);
  run('openssl', ['genrsa', '-out', 'small.pem', '512']);
  run('openssl', ['rsa', '-in', 'small.pem', '-pubout', '-out', 'small_spki.pem']);
  run('openssl', [
    'genpkey',
    '-algorithm',
    'RSA-PSS',
    '-pkeyopt',
    'rsa_keygen_bits:1024',
    '-out',
    'pss.pem',
  ]);
  run('openssl', ['pkey', '-in', 'pss.pem', '-pubout', '-out', 'pss_spki.pem']);
  run('openssl', ['genrsa', '-traditional', '-out', 'traditional.pem', '1024']);
  run('openssl', ['genrsa', '-aes128', '-passout', 'pass:secret', '-out', 'encrypted.pem', '1024']);
  run('openssl', ['ecparam', '-genkey', '-name', 'prime256v1', '-noout', '-out', 'ec.pem']);
  run('openssl', ['ec', '-in', 'ec.pem', '-pubout', '-out', 'ec_spki.pem']);
  run('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', 'ed.pem']);
  run('openssl', ['pkey', '-in', 'ed.pem', '-pubout', '-out', 'ed_spki.pem']);
  run('openssl', [
    'req',
    '-x509',
    '-key',
    'rsa.pem',
    '-subj',
    '/CN=cib',
    '-days',
    '1',
    '-out',
    'cert.pem',
  ]);
  run('ssh-keygen', [
    '-q',
    '-t',
    'rsa',
    '-b',
    '2048',
    '-N',
    '',
    '-C',
    'alex@laptop',
    '-f',
    'id_rsa',
  ]);
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', 'id_ed25519']);
  writeFileSync(
    file('id_rsa_spki.pem'),
    run('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', 'id_rsa.pub']),
  );
  writeFileSync(file('id_rsa_rfc4716.pub'), run('ssh-keygen', ['-e', '-f', 'id_rsa.pub']));
  // The reserved key (308-digit e) in every format, encoded by OpenSSL's ASN.1 generator.
  const [e, n] = reservedKey.split(' ').map(BigInt) as [bigint, bigint];
  writeFileSync(
    file('reserved.cnf'),
    `asn1=SEQUENCE:pub\n[pub]\nn=INTEGER:0x${n.toString(16)}\ne=INTEGER:0x${e.toString(16)}\n`,
  );
  run('openssl', ['asn1parse', '-genconf', 'reserved.cnf', '-out', 'reserved.der', '-noout']);
  const fromDer = ['rsa', '-RSAPublicKey_in', '-inform', 'DER', '-in', 'reserved.der'];
  run('openssl', [...fromDer, '-pubout', '-out', 'reserved_spki.pem']);
  run('openssl', [...fromDer, '-RSAPublicKey_out', '-out', 'reserved_pkcs1.pem']);
  writeFileSync(
    file('reserved.pub'),
    run('ssh-keygen', ['-i', '-m', 'PKCS8', '-f', 'reserved_spki.pem']),
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('importPublicKey reads keys made by real tools', () => {
  it('reads an OpenSSL SPKI "BEGIN PUBLIC KEY" exactly as openssl prints it', () => {
    const result = importPublicKey(read('spki.pem'), 'upload');
    expect(result.problems).toEqual([]);
    expect(result.format).toBe('spki-pem');
    expect(result.publicKey).toBe(opensslNumbers(read('spki.pem')));
  });

  it('reads an OpenSSL PKCS#1 "BEGIN RSA PUBLIC KEY" as the same key', () => {
    const result = importPublicKey(read('pkcs1.pem'));
    expect(result).toMatchObject({ format: 'pkcs1-pem', problems: [] });
    expect(result.publicKey).toBe(opensslNumbers(read('spki.pem')));
  });

  it('keeps an exponent other than 65537 (openssl genrsa -3)', () => {
    const result = importPublicKey(read('e3_spki.pem'));
    expect(result.publicKey).toBe(opensslNumbers(read('e3_spki.pem')));
    expect(result.publicKey!.startsWith('3 ')).toBe(true);
  });

  it('reads an RSA-PSS public key, whose numbers are an ordinary RSA key', () => {
    const result = importPublicKey(read('pss_spki.pem'));
    expect(result).toMatchObject({ format: 'spki-pem', problems: [] });
    expect(result.publicKey).toBe(opensslNumbers(read('pss_spki.pem')));
  });

  it('reads an OpenSSH "ssh-rsa … comment" line as the key ssh-keygen exports', () => {
    const result = importPublicKey(read('id_rsa.pub'));
    expect(read('id_rsa.pub')).toMatch(/^ssh-rsa AAAA\S+ alex@laptop\n$/);
    expect(result).toMatchObject({ format: 'openssh', problems: [] });
    expect(result.publicKey).toBe(opensslNumbers(read('id_rsa_spki.pem')));
  });

  it('reads an authorized_keys line with options before the key type', () => {
    const line = `from="10.0.0.1",no-pty ${read('id_rsa.pub')}`;
    expect(importPublicKey(line).publicKey).toBe(opensslNumbers(read('id_rsa_spki.pem')));
  });

  it('reads the reserved key (308-digit e) from PKCS#1, SPKI and OpenSSH encodings', () => {
    for (const [name, format] of [
      ['reserved_pkcs1.pem', 'pkcs1-pem'],
      ['reserved_spki.pem', 'spki-pem'],
      ['reserved.pub', 'openssh'],
    ] as const) {
      const result = importPublicKey(read(name));
      expect(result.problems, name).toEqual([]);
      expect(result.format).toBe(format);
      expect(result.publicKey).toBe(reservedKey);
    }
    expect(opensslNumbers(read('reserved_spki.pem'))).toBe(reservedKey);
  });

  it('reads a Seattle .publickey as it is, trimmed', () => {
    const result = importPublicKey(RESERVED_KEY_FIXTURE + '\n');
    expect(result).toEqual({ publicKey: reservedKey, format: 'seattle', problems: [] });
  });

  it('accepts PEM with Windows line endings and surrounding text', () => {
    const pem = 'my key:\r\n' + read('spki.pem').replace(/\n/g, '\r\n') + '\r\nthanks';
    expect(importPublicKey(pem).publicKey).toBe(opensslNumbers(read('spki.pem')));
  });

  it('returns a weak key with the key.public.weak warning', () => {
    const result = importPublicKey(read('small_spki.pem'), 'user_data.bob.public_key');
    expect(result.publicKey).toBe(opensslNumbers(read('small_spki.pem')));
    expect(result.problems).toEqual([
      expect.objectContaining({
        code: 'key.public.weak',
        severity: 'warning',
        path: 'user_data.bob.public_key',
      }),
    ]);
    const toy = importPublicKey('12345 54321');
    expect(toy.publicKey).toBe('12345 54321');
    expect(toy.problems.map((p) => p.code)).toEqual(['key.public.weak']);
  });
});

describe('importPublicKey refuses private keys with a warning', () => {
  it.each([
    ['rsa.pem', 'PRIVATE KEY'],
    ['traditional.pem', 'RSA PRIVATE KEY'],
    ['encrypted.pem', 'ENCRYPTED PRIVATE KEY'],
    ['ec.pem', 'EC PRIVATE KEY'],
    ['id_rsa', 'OPENSSH PRIVATE KEY'],
  ])('refuses %s (%s) and says it must not be shared', (name, label) => {
    expect(read(name)).toContain(`-----BEGIN ${label}-----`);
    const result = importPublicKey(read(name), 'upload');
    expect(result.publicKey).toBeUndefined();
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({
      code: 'key.import.private',
      path: 'upload',
      severity: 'error',
    });
    expect(result.problems[0]!.message).toContain('PRIVATE key');
    expect(result.problems[0]!.message).toContain('Never paste, upload or share a private key');
  });

  it('refuses a private key pasted together with a public key', () => {
    const result = importPublicKey(read('spki.pem') + read('rsa.pem'));
    expect(result.problems.map((p) => p.code)).toEqual(['key.import.private']);
  });

  it('refuses a Seattle .privatekey "d p q"', () => {
    const result = importPublicKey('2753 61 53');
    expect(result.publicKey).toBeUndefined();
    expect(result.problems.map((p) => p.code)).toEqual(['key.import.private']);
    expect(result.problems[0]!.message).toContain('.publickey');
  });
});

describe('importPublicKey explains what it cannot read', () => {
  it.each([
    ['ec_spki.pem', 'elliptic-curve'],
    ['ed_spki.pem', 'Ed25519'],
    ['id_ed25519.pub', 'ssh-ed25519'],
  ])('says %s is not an RSA key', (name, what) => {
    const result = importPublicKey(read(name));
    expect(result.publicKey).toBeUndefined();
    expect(result.problems.map((p) => p.code)).toEqual(['key.import.not-rsa']);
    expect(result.problems[0]!.message).toContain(what);
    expect(result.problems[0]!.message).toContain('RSA');
  });

  it.each([
    ['hello world'],
    ['{"kty":"RSA","n":"AQAB","e":"AQAB"}'],
    ['AAAAB3NzaC1yc2EAAAADAQABAAABAQ'],
  ])('lists the understood formats for %j', (text) => {
    const result = importPublicKey(text, 'paste');
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatchObject({ code: 'key.import.unsupported', path: 'paste' });
    const message = result.problems[0]!.message;
    for (const format of ['"e n"', 'BEGIN PUBLIC KEY', 'BEGIN RSA PUBLIC KEY', 'ssh-rsa']) {
      expect(message).toContain(format);
    }
  });

  it('points a certificate and an RFC 4716 SSH2 key to the command that converts them', () => {
    expect(importPublicKey(read('cert.pem')).problems[0]).toMatchObject({
      code: 'key.import.unsupported',
      message: expect.stringContaining('openssl x509'),
    });
    expect(read('id_rsa_rfc4716.pub')).toContain('---- BEGIN SSH2 PUBLIC KEY ----');
    expect(importPublicKey(read('id_rsa_rfc4716.pub')).problems[0]).toMatchObject({
      code: 'key.import.unsupported',
      message: expect.stringContaining('ssh-keygen -i'),
    });
  });

  it('reports an empty paste', () => {
    expect(importPublicKey(' \n ').problems.map((p) => p.code)).toEqual(['key.import.empty']);
  });

  it('reports damaged PEM: bad base64, cut short, extra bytes, no END line', () => {
    const pem = read('spki.pem');
    const lines = pem.trim().split('\n');
    const codeOf = (text: string) => importPublicKey(text).problems.map((p) => p.code);
    expect(codeOf(pem.replace(lines[2]!, lines[2]!.replace(/[A-Za-z]/, '*')))).toEqual([
      'key.import.pem',
    ]);
    const shortened = [lines[0], ...lines.slice(1, -2), lines.at(-1)].join('\n');
    expect(codeOf(shortened)).toEqual(['key.import.der']);
    const der = Buffer.from(lines.slice(1, -1).join(''), 'base64');
    const padded = Buffer.concat([der, Buffer.from([0, 0, 0])]).toString('base64');
    expect(codeOf(`-----BEGIN PUBLIC KEY-----\n${padded}\n-----END PUBLIC KEY-----`)).toEqual([
      'key.import.der',
    ]);
    expect(codeOf(lines.slice(0, -1).join('\n'))).toEqual(['key.import.pem']);
    const pkcs1AsSpki = read('pkcs1.pem').replace(/RSA PUBLIC KEY/g, 'PUBLIC KEY');
    expect(codeOf(pkcs1AsSpki)).toEqual(['key.import.der']);
  });

  it('reports a damaged or mislabelled OpenSSH line', () => {
    const [, rsaBlob] = read('id_rsa.pub').split(' ') as [string, string];
    const [, edBlob] = read('id_ed25519.pub').split(' ') as [string, string];
    const codeOf = (text: string) => importPublicKey(text).problems.map((p) => p.code);
    expect(codeOf(`ssh-rsa ${edBlob} mislabelled`)).toEqual(['key.import.openssh']);
    expect(codeOf(`ssh-rsa ${rsaBlob.slice(0, 100)}`)).toEqual(['key.import.openssh']);
    expect(codeOf('ssh-rsa')).toEqual(['key.import.openssh']);
    expect(codeOf(`ssh-rsa ${rsaBlob}\nssh-rsa ${rsaBlob}`)).toEqual(['key.import.several']);
  });
});

describe('importPublicKey on arbitrary input', () => {
  it('never throws: garbage text, random DER in PEM and random OpenSSH blobs give problems', () => {
    const der = Buffer.from(read('spki.pem').split('\n').slice(1, -2).join(''), 'base64');
    const mutatedDer = fc
      .tuple(
        fc.nat({ max: der.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.nat({ max: der.length }),
      )
      .map(([at, byte, cut]) => {
        const copy = Buffer.from(der.subarray(0, Math.max(1, cut)));
        if (at < copy.length) copy[at] = byte;
        return copy;
      });
    const inputs = fc.oneof(
      fc.string(),
      mutatedDer.map(
        (bytes) =>
          `-----BEGIN PUBLIC KEY-----\n${bytes.toString('base64')}\n-----END PUBLIC KEY-----`,
      ),
      mutatedDer.map(
        (bytes) =>
          `-----BEGIN RSA PUBLIC KEY-----\n${bytes.toString('base64')}\n-----END RSA PUBLIC KEY-----`,
      ),
      fc
        .uint8Array({ maxLength: 64 })
        .map((bytes) => `ssh-rsa ${Buffer.from(bytes).toString('base64')} x`),
    );
    fc.assert(
      fc.property(inputs, (text) => {
        const result = importPublicKey(text, 'paste');
        if (result.publicKey !== undefined) {
          expect(parsePublicKey(result.publicKey).key).toBeDefined();
        } else {
          expect(result.problems.some((p) => p.severity === 'error' && p.path === 'paste')).toBe(
            true,
          );
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('imported keys no RSA key can be, and oversized numbers', () => {
  /** A PKCS#1 RSAPublicKey PEM written by `openssl asn1parse -genconf` from the given integers. */
  function pkcs1Pem(n: string, e: string): string {
    const name = `gen-${n.length}-${e}`;
    writeFileSync(
      file(`${name}.conf`),
      `asn1=SEQUENCE:key\n[key]\nn=INTEGER:${n}\ne=INTEGER:${e}\n`,
    );
    run('openssl', ['asn1parse', '-genconf', `${name}.conf`, '-out', `${name}.der`, '-noout']);
    const body = readFileSync(file(`${name}.der`)).toString('base64');
    return `-----BEGIN RSA PUBLIC KEY-----\n${body.replace(/.{64}/g, '$&\n')}\n-----END RSA PUBLIC KEY-----\n`;
  }

  it('refuses e = 1 and an even modulus from PEM with the per-field problems', () => {
    expect(importPublicKey(pkcs1Pem('3233', '1'), 'k').problems).toMatchObject([
      { code: 'key.public.exponent-one', path: 'k' },
    ]);
    expect(importPublicKey(pkcs1Pem('3234', '17'), 'k').problems).toMatchObject([
      { code: 'key.public.modulus-even', path: 'k' },
    ]);
  });

  it('refuses a PEM modulus of 5000 bytes (over 10,000 digits) before converting it', () => {
    const n = `0x${'ab'.repeat(5000)}`;
    const result = importPublicKey(pkcs1Pem(n, '65537'), 'k');
    expect(result.publicKey).toBeUndefined();
    expect(result.problems).toMatchObject([{ code: 'key.public.too-long', path: 'k' }]);
    expect(result.problems[0]!.message).toContain('modulus');
  });

  it('refuses an OpenSSH modulus of 5000 bytes the same way', () => {
    const sshString = (bytes: Uint8Array) => {
      const out = new Uint8Array(4 + bytes.length);
      new DataView(out.buffer).setUint32(0, bytes.length);
      out.set(bytes, 4);
      return out;
    };
    const n = new Uint8Array(5001).fill(0xab);
    n[0] = 0; // mpint: a leading zero keeps it positive
    const blob = Buffer.concat([
      sshString(new TextEncoder().encode('ssh-rsa')),
      sshString(new Uint8Array([1, 0, 1])),
      sshString(n),
    ]);
    const result = importPublicKey(`ssh-rsa ${blob.toString('base64')} big`, 'k');
    expect(result.problems).toMatchObject([{ code: 'key.public.too-long', path: 'k' }]);
  });
});
