/**
 * Turns the public keys people are likely to paste or upload into Seattle strings `"e n"`
 * (docs/formats.md#keys): a Seattle `.publickey`, PEM SPKI (`BEGIN PUBLIC KEY`), PEM PKCS#1
 * (`BEGIN RSA PUBLIC KEY`) and OpenSSH (`ssh-rsa AAAA… comment`).
 *
 * The DER reader is our own, small and synchronous, rather than node-forge's asn1: importing must
 * work synchronously in the core, and forge is only ever loaded lazily (dynamic import) so that it
 * stays out of the page's first bundle. We read exactly the few structures named below.
 */
import { bytesToBigInt } from './bigint.ts';
import { base64ToBytes, read32BE } from './bytes.ts';
import { errorsOf, problem, type Problem } from './problems.ts';
import { formatPublicKey, MAX_KEY_DIGITS, parsePublicKey } from './keys.ts';

export type KeyFormat = 'seattle' | 'spki-pem' | 'pkcs1-pem' | 'openssh';

export interface KeyImport {
  publicKey?: string;
  format?: KeyFormat;
  problems: Problem[];
}

const UNDERSTOOD_FORMATS =
  'a Seattle public key ("e n", two decimal numbers), a PEM public key ' +
  '("-----BEGIN PUBLIC KEY-----" or "-----BEGIN RSA PUBLIC KEY-----") or an OpenSSH RSA public ' +
  'key ("ssh-rsa AAAA… comment", the .pub file)';

/** A malformed structure inside an otherwise recognised format; turned into a problem. */
class ImportError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// DER (ITU-T X.690 §8 and §10): just what SubjectPublicKeyInfo and RSAPublicKey use.

/** Universal tags, constructed bit included where the type is always constructed. */
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_NULL = 0x05;
const TAG_OBJECT_IDENTIFIER = 0x06;
const TAG_SEQUENCE = 0x30;
/** X.690 §8.1.2.4: tag number 31 in the low bits means a multi-byte tag, never used here. */
const TAG_NUMBER_MASK = 0x1f;
/** X.690 §8.1.3.5: high bit set means "long form", low bits count the length bytes. */
const LENGTH_LONG_FORM = 0x80;
/** Four length bytes (4 GiB) is far beyond any key; more means garbage. */
const MAX_LENGTH_BYTES = 4;

/** Object identifiers we recognise in an AlgorithmIdentifier. */
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1'; // RFC 8017 Appendix A.1, RFC 3279 §2.3.1
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10'; // RFC 8017 Appendix A.2.3, RFC 4055 §1.2
const OTHER_KEY_ALGORITHMS: Record<string, string> = {
  '1.2.840.10045.2.1': 'an elliptic-curve (EC/ECDSA) key', // RFC 5480 §2.1.1
  '1.2.840.10040.4.1': 'a DSA key', // RFC 3279 §2.3.2
  '1.3.101.110': 'an X25519 key', // RFC 8410 §3
  '1.3.101.111': 'an X448 key',
  '1.3.101.112': 'an Ed25519 key',
  '1.3.101.113': 'an Ed448 key',
};

interface DerElement {
  tag: number;
  /** The content octets (without tag and length). */
  content: Uint8Array;
  /** Offset just past this element in the buffer it was read from. */
  end: number;
}

/** Reads one tag-length-value element at `offset` (X.690 §8.1). */
function readElement(der: Uint8Array, offset: number): DerElement {
  if (offset + 2 > der.length) throw new ImportError('key.import.der', 'The key data ends early.');
  const tag = der[offset]!;
  if ((tag & TAG_NUMBER_MASK) === TAG_NUMBER_MASK) {
    throw new ImportError('key.import.der', 'The key data has a tag no public key uses.');
  }
  const first = der[offset + 1]!;
  let length: number;
  let contentStart: number;
  if (first < LENGTH_LONG_FORM) {
    length = first;
    contentStart = offset + 2;
  } else {
    const count = first & ~LENGTH_LONG_FORM;
    // Count 0 is BER's indefinite length, which DER (X.690 §10.1) forbids.
    if (count === 0 || count > MAX_LENGTH_BYTES) {
      throw new ImportError('key.import.der', 'The key data has an invalid length.');
    }
    if (offset + 2 + count > der.length) {
      throw new ImportError('key.import.der', 'The key data ends early.');
    }
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[offset + 2 + i]!;
    contentStart = offset + 2 + count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new ImportError('key.import.der', 'The key data ends early.');
  return { tag, content: der.subarray(contentStart, end), end };
}

/** Reads an element and checks its tag. */
function expectElement(der: Uint8Array, offset: number, tag: number, what: string): DerElement {
  const element = readElement(der, offset);
  if (element.tag !== tag) {
    throw new ImportError('key.import.der', `The key data has no ${what} where one belongs.`);
  }
  return element;
}

/** The elements directly inside a constructed element's content. */
function children(content: Uint8Array): DerElement[] {
  const list: DerElement[] = [];
  for (let offset = 0; offset < content.length;) {
    const element = readElement(content, offset);
    list.push(element);
    offset = element.end;
  }
  return list;
}

/** The whole buffer must be exactly one element: trailing bytes mean a damaged paste. */
function expectWhole(der: Uint8Array, tag: number, what: string): DerElement {
  const element = expectElement(der, 0, tag, what);
  if (element.end !== der.length) {
    throw new ImportError('key.import.der', 'The key data has extra bytes after the key.');
  }
  return element;
}

/**
 * Longer numbers (in big-endian bytes) certainly have more than MAX_KEY_DIGITS decimal digits;
 * checked before the number is built, since converting a huge one to decimal costs far more than
 * reading it. Shorter ones get the exact digit count check of parsePublicKey.
 */
const MAX_KEY_BYTES = Math.ceil(MAX_KEY_DIGITS / Math.log10(256));

/** `bytes` as a number, refused with the usual per-field problem when it has too many digits. */
function boundedInteger(bytes: Uint8Array, name: string): bigint {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  if (bytes.length - start > MAX_KEY_BYTES) {
    throw new ImportError(
      'key.public.too-long',
      `The public key's ${name} has more than ${MAX_KEY_DIGITS} decimal digits; at most ${MAX_KEY_DIGITS} are accepted.`,
    );
  }
  return bytesToBigInt(bytes.subarray(start));
}

/** An INTEGER (X.690 §8.3) that RSA requires to be positive: two's complement, big-endian. */
function positiveInteger(element: DerElement, name: string): bigint {
  if (element.tag !== TAG_INTEGER || element.content.length === 0) {
    throw new ImportError('key.import.der', `The key's ${name} is not an integer.`);
  }
  if (element.content[0]! & 0x80) {
    throw new ImportError('key.import.der', `The key's ${name} is negative.`);
  }
  return boundedInteger(element.content, name);
}

/** An OBJECT IDENTIFIER (X.690 §8.19) in dotted form. */
function objectIdentifier(element: DerElement): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of element.content) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const top = Math.min(2, Math.floor(first / 40));
  return [top, first - top * 40, ...arcs].join('.');
}

/**
 * RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 Appendix A.1.1).
 */
function readRsaPublicKey(der: Uint8Array): { e: bigint; n: bigint } {
  const sequence = expectWhole(der, TAG_SEQUENCE, 'RSA public key');
  const fields = children(sequence.content);
  if (fields.length !== 2) {
    throw new ImportError('key.import.der', 'An RSA public key holds exactly two numbers.');
  }
  return { n: positiveInteger(fields[0]!, 'modulus'), e: positiveInteger(fields[1]!, 'exponent') };
}

/**
 * SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
 * (RFC 5280 §4.1.2.7); AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }
 * (RFC 5280 §4.1.1.2). For RSA the bit string holds an RSAPublicKey (RFC 3279 §2.3.1).
 */
function readSubjectPublicKeyInfo(der: Uint8Array): { e: bigint; n: bigint } {
  const info = expectWhole(der, TAG_SEQUENCE, 'public key');
  const [algorithm, subjectPublicKey, ...extra] = children(info.content);
  if (!algorithm || !subjectPublicKey || extra.length) {
    throw new ImportError(
      'key.import.der',
      'A public key holds an algorithm and a key, nothing else.',
    );
  }
  if (algorithm.tag !== TAG_SEQUENCE) {
    throw new ImportError('key.import.der', 'The public key does not name its algorithm.');
  }
  const [oid, parameters] = children(algorithm.content);
  if (!oid || oid.tag !== TAG_OBJECT_IDENTIFIER) {
    throw new ImportError('key.import.der', 'The public key does not name its algorithm.');
  }
  const name = objectIdentifier(oid);
  if (name !== OID_RSA_ENCRYPTION && name !== OID_RSASSA_PSS) {
    const what = OTHER_KEY_ALGORITHMS[name] ?? `a key of another kind (algorithm ${name})`;
    throw new ImportError('key.import.not-rsa', `This is ${what}; Seattle needs an RSA key.`);
  }
  // rsaEncryption carries NULL parameters (RFC 3279 §2.3.1); RSASSA-PSS may carry a SEQUENCE.
  if (name === OID_RSA_ENCRYPTION && parameters && parameters.tag !== TAG_NULL) {
    throw new ImportError('key.import.der', 'The RSA public key has unexpected parameters.');
  }
  if (subjectPublicKey.tag !== TAG_BIT_STRING || subjectPublicKey.content[0] !== 0) {
    // The first content octet counts unused bits (X.690 §8.6.2.2); a DER key uses whole bytes.
    throw new ImportError('key.import.der', 'The public key bits are not a whole number of bytes.');
  }
  return readRsaPublicKey(subjectPublicKey.content.subarray(1));
}

// ---------------------------------------------------------------------------------------------
// PEM (RFC 7468 §2): "-----BEGIN LABEL-----", base64 of the DER, "-----END LABEL-----".

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;
const PEM_LABEL_SPKI = 'PUBLIC KEY'; // RFC 7468 §13
const PEM_LABEL_PKCS1 = 'RSA PUBLIC KEY'; // RFC 8017 Appendix A.1.1, as written by OpenSSL

function pemBody(body: string): Uint8Array {
  const der = base64ToBytes(body.replace(/\s+/g, ''));
  if (!der || der.length === 0) {
    throw new ImportError(
      'key.import.pem',
      'The PEM block is damaged: its base64 does not decode.',
    );
  }
  return der;
}

// ---------------------------------------------------------------------------------------------
// OpenSSH (RFC 4253 §6.6): "ssh-rsa <base64 of string "ssh-rsa", mpint e, mpint n> [comment]";
// string and mpint are defined in RFC 4251 §5.

const SSH_RSA = 'ssh-rsa';
/** Key types OpenSSH writes that are not plain RSA keys. */
const SSH_OTHER_TYPE =
  /^(ssh-(ed25519|ed448|dss)|ecdsa-sha2-\S+|sk-\S+|\S+-cert-v01@openssh\.com)$/;
const UINT32_BYTES = 4;

/** Reads one RFC 4251 §5 `string` (uint32 length, then bytes) at `offset`. */
function readSshString(blob: Uint8Array, offset: number): { bytes: Uint8Array; end: number } {
  if (offset + UINT32_BYTES > blob.length) {
    throw new ImportError('key.import.openssh', 'The OpenSSH key data ends early.');
  }
  const length = read32BE(blob, offset);
  const start = offset + UINT32_BYTES;
  if (start + length > blob.length) {
    throw new ImportError('key.import.openssh', 'The OpenSSH key data ends early.');
  }
  return { bytes: blob.subarray(start, start + length), end: start + length };
}

/** An RFC 4251 §5 `mpint` that must be positive (two's complement, big-endian). */
function sshPositiveMpint(bytes: Uint8Array, name: string): bigint {
  if (bytes.length > 0 && bytes[0]! & 0x80) {
    throw new ImportError('key.import.openssh', `The OpenSSH key's ${name} is negative.`);
  }
  return boundedInteger(bytes, name);
}

function readOpenSshRsaBlob(blob: Uint8Array): { e: bigint; n: bigint } {
  const type = readSshString(blob, 0);
  if (new TextDecoder().decode(type.bytes) !== SSH_RSA) {
    throw new ImportError(
      'key.import.openssh',
      'The OpenSSH key data does not say "ssh-rsa" inside; the line is damaged.',
    );
  }
  const e = readSshString(blob, type.end);
  const n = readSshString(blob, e.end);
  if (n.end !== blob.length) {
    throw new ImportError(
      'key.import.openssh',
      'The OpenSSH key data has extra bytes after the key.',
    );
  }
  return { e: sshPositiveMpint(e.bytes, 'exponent'), n: sshPositiveMpint(n.bytes, 'modulus') };
}

// ---------------------------------------------------------------------------------------------

const PRIVATE_KEY_WARNING =
  'Never paste, upload or share a private key; it gives control of every vessel the key owns. ' +
  'Use the matching public key instead';

function privateKeyProblem(path: string, what: string, hint: string): Problem {
  return problem(
    'key.import.private',
    path,
    `This is a PRIVATE key (${what}). ${PRIVATE_KEY_WARNING} (${hint}).`,
  );
}

function unsupported(path: string, what: string): Problem {
  return problem('key.import.unsupported', path, `${what} Paste ${UNDERSTOOD_FORMATS}.`);
}

/** Checks the extracted numbers by Seattle's rule and builds the result. */
function seattleResult(key: { e: bigint; n: bigint }, format: KeyFormat, path: string): KeyImport {
  const { key: checked, problems } = parsePublicKey(formatPublicKey(key), path);
  if (!checked || errorsOf(problems).length) return { format, problems };
  return { publicKey: formatPublicKey(checked), format, problems };
}

function importPem(text: string, path: string): KeyImport {
  const block = PEM_BLOCK.exec(text);
  if (!block) {
    return {
      problems: [
        problem('key.import.pem', path, 'The PEM block has no matching "-----END …-----" line.'),
      ],
    };
  }
  const [, label, body] = block as unknown as [string, string, string];
  if (label === PEM_LABEL_SPKI)
    return seattleResult(readSubjectPublicKeyInfo(pemBody(body)), 'spki-pem', path);
  if (label === PEM_LABEL_PKCS1)
    return seattleResult(readRsaPublicKey(pemBody(body)), 'pkcs1-pem', path);
  if (label === 'CERTIFICATE') {
    return {
      problems: [
        unsupported(
          path,
          'This is a certificate, not a bare public key; take its key out with "openssl x509 -in cert.pem -pubkey -noout".',
        ),
      ],
    };
  }
  return {
    problems: [unsupported(path, `A PEM "${label}" block is not a public key this builder reads.`)],
  };
}

function importOpenSsh(lines: string[], path: string): KeyImport {
  if (lines.length !== 1) {
    return {
      problems: [
        problem('key.import.several', path, 'Paste one public key at a time, on one line.'),
      ],
    };
  }
  const words = lines[0]!.trim().split(/\s+/);
  // authorized_keys lines may start with options; the key type is the first word we recognise.
  const at = words.findIndex((word) => word === SSH_RSA || SSH_OTHER_TYPE.test(word));
  const type = words[at]!;
  if (type !== SSH_RSA) {
    return {
      problems: [
        problem(
          'key.import.not-rsa',
          path,
          `This is an OpenSSH "${type}" key; Seattle needs an RSA key (make one with "ssh-keygen -t rsa -b 2048").`,
        ),
      ],
    };
  }
  const blob = base64ToBytes(words[at + 1] ?? '');
  if (!blob || blob.length === 0) {
    throw new ImportError(
      'key.import.openssh',
      "The OpenSSH key's base64 part is missing or damaged.",
    );
  }
  return seattleResult(readOpenSshRsaBlob(blob), 'openssh', path);
}

/**
 * Recognises a pasted or uploaded public key and converts it to a Seattle string. Returns every
 * problem (errors and the `key.public.weak` warning); `publicKey` only when there is no error.
 */
export function importPublicKey(text: string, path = ''): KeyImport {
  const trimmed = text.trim();
  if (trimmed === '') return { problems: [problem('key.import.empty', path, 'The key is empty.')] };
  try {
    // A private key anywhere in the paste is refused first, whatever else is with it.
    const privateLabel = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----/.exec(trimmed)?.[1];
    if (privateLabel) {
      return {
        problems: [
          privateKeyProblem(
            path,
            `a PEM "${privateLabel}" block`,
            'its public half: "openssl pkey -in key.pem -pubout", or the .pub file next to an OpenSSH key',
          ),
        ],
      };
    }
    if (trimmed.startsWith('PuTTY-User-Key-File-')) {
      return {
        problems: [
          privateKeyProblem(
            path,
            'a PuTTY .ppk file',
            'PuTTYgen\'s "public key for pasting into OpenSSH authorized_keys file"',
          ),
        ],
      };
    }
    if (trimmed.includes('-----BEGIN ')) return importPem(trimmed, path);
    if (trimmed.startsWith('---- BEGIN SSH2 PUBLIC KEY ----')) {
      return {
        problems: [
          unsupported(
            path,
            'This is an SSH2 (RFC 4716) public key; convert it with "ssh-keygen -i -f FILE".',
          ),
        ],
      };
    }
    const words = trimmed.split(/\s+/);
    if (/^[+-]?[0-9]/.test(trimmed)) {
      if (words.length === 3 && words.every((word) => /^[0-9]+$/.test(word))) {
        return {
          problems: [
            privateKeyProblem(path, 'a Seattle .privatekey, "d p q"', 'the .publickey file, "e n"'),
          ],
        };
      }
      const { key, problems } = parsePublicKey(trimmed, path);
      if (!key || errorsOf(problems).length) return { format: 'seattle', problems };
      return { publicKey: formatPublicKey(key), format: 'seattle', problems };
    }
    if (words.some((word) => word === SSH_RSA || SSH_OTHER_TYPE.test(word))) {
      const lines = trimmed.split(/\r?\n/).filter((line) => line.trim() !== '');
      return importOpenSsh(lines, path);
    }
    return { problems: [unsupported(path, 'This is not a public key this builder recognises.')] };
  } catch (error) {
    if (error instanceof ImportError)
      return { problems: [problem(error.code, path, error.message)] };
    throw error;
  }
}
