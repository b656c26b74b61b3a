/**
 * The signed `seattle/seattle_repy/metainfo` file every base installer carries
 * (docs/formats.md#signed-metainfo): the list the node's software updater compares against the
 * update site, signed with the software-update key pair.
 *
 * Layout, as the original packaging step (`writemetainfo.py` + `signeddata.repy`) wrote it:
 *
 *   <path> <sha1 hex> <size>\n          one line per listed file, each ending in "\n"
 *   …
 *   \n!<e n>!<timestamp>!<expiration>!None!None!<signature>
 *
 * Reading of the metainfo rule (docs/formats.md#signed-metainfo): "one line per program file" means
 * every line ends in `\n` (the original built the list as `outstring + line + "\n"`), and the
 * signature block is then appended as `\n!…`, so a blank line separates the list from the `!` line.
 * The node's parser skips blank lines and lines starting with `!`; `signeddata_split` strips
 * exactly that one extra `\n`. We list files sorted by path (UTF-16 code-unit order, i.e. byte
 * order for ASCII paths) so the file is reproducible; the original used directory order, which the
 * updater does not depend on. Timestamps are whole seconds written as decimal integers.
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { bitLength, bytesToBigInt, modPow } from './bigint.ts';
import { formatPublicKey, type PrivateKey, type PublicKey } from './keys.ts';
import { CibError, problem, type Problem } from './problems.ts';

/** The updater's signatures expire 30 days after signing (docs/formats.md#signed-metainfo). */
export const METAINFO_DEFAULT_LIFETIME_SECONDS = 30 * 24 * 60 * 60;
/** The file's own name inside `seattle_repy/`. */
export const METAINFO_FILE = 'metainfo';
/** Separator of the signature block's fields (signeddata.repy). */
const FIELD_SEPARATOR = '!';
/** The unused sequence number and destination fields. */
const UNUSED_FIELD = 'None';
/** Byte prefixed to every signed chunk by Seattle's RSA (docs/formats.md#signed-metainfo). */
const CHUNK_PREFIX = 0x01;
const SHA1_BYTES = 20;
/**
 * Seattle's RSA cuts a message into chunks of floor((bits(n) - 1) / 8) - 1 bytes; we only write
 * the one-chunk form, which needs a modulus of at least this many bits for a 20-byte digest.
 */
export const METAINFO_MIN_KEY_BITS = 256;

/** A file of the program, its path relative to `seattle_repy/` with `/` separators. */
export interface MetainfoFile {
  path: string;
  data: Uint8Array;
}

export interface MetainfoEntry {
  path: string;
  sha1: string;
  size: number;
}

/**
 * docs/formats.md#signed-metainfo: every file except `*.pyc`, `*.swp`, `*_repy.py` and the metainfo
 * file itself.
 */
export function isListedInMetainfo(path: string): boolean {
  return !(
    path.endsWith('.pyc') ||
    path.endsWith('.swp') ||
    path.endsWith('_repy.py') ||
    path === METAINFO_FILE
  );
}

/** A path the line format can carry: no whitespace (fields are space-split), no `!`, relative. */
function pathProblem(path: string): Problem | undefined {
  if (path === '' || /[\s!]/.test(path) || path.startsWith('/') || path.endsWith('/')) {
    return problem(
      'metainfo.path.invalid',
      path,
      'A file listed in the metainfo needs a relative path without spaces, line breaks or "!".',
    );
  }
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    return problem(
      'metainfo.path.invalid',
      path,
      'A file listed in the metainfo may not have empty, "." or ".." path parts.',
    );
  }
  return undefined;
}

function chunkBytes(n: bigint): number {
  return Math.floor((bitLength(n) - 1) / 8) - 1;
}

function checkSigningKey(publicKey: PublicKey): void {
  if (bitLength(publicKey.n) < METAINFO_MIN_KEY_BITS || chunkBytes(publicKey.n) < SHA1_BYTES) {
    throw new CibError(
      problem(
        'metainfo.key.too-small',
        'publicKey',
        `The software-update key's modulus has ${bitLength(publicKey.n)} bits; signing the metainfo needs at least ${METAINFO_MIN_KEY_BITS}.`,
      ),
    );
  }
}

/** The message Seattle's RSA signs for a digest: 0x01 followed by the digest, big-endian. */
function digestMessage(signedText: string): bigint {
  const digest = sha1(new TextEncoder().encode(signedText));
  const message = new Uint8Array(1 + digest.length);
  message[0] = CHUNK_PREFIX;
  message.set(digest, 1);
  return bytesToBigInt(message);
}

/** The listed entries for a set of files, sorted by path (see the module comment). */
export function metainfoEntries(files: readonly MetainfoFile[]): MetainfoEntry[] {
  const problems = files.map((f) => pathProblem(f.path)).filter((p) => p !== undefined);
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file.path)) {
      problems.push(problem('metainfo.path.duplicate', file.path, 'This file is listed twice.'));
    }
    seen.add(file.path);
  }
  if (problems.length > 0) throw new CibError(problems);
  return files
    .filter((f) => isListedInMetainfo(f.path))
    .map((f) => ({ path: f.path, sha1: bytesToHex(sha1(f.data)), size: f.data.length }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Writes the signed metainfo text for the program files (paths relative to `seattle_repy/`).
 * `timestamp` and `expiration` are whole seconds since the epoch; the expiration defaults to
 * timestamp + 30 days. Throws CibError for unusable paths or a key too small to sign with.
 * The caller checks that the private key belongs to the public key (`privateKeyMatches`).
 */
export function buildMetainfo(
  files: readonly MetainfoFile[],
  keys: { publicKey: PublicKey; privateKey: PrivateKey },
  timestamp: number,
  expiration: number = timestamp + METAINFO_DEFAULT_LIFETIME_SECONDS,
): string {
  for (const [name, value] of [
    ['timestamp', timestamp],
    ['expiration', expiration],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new CibError(
        problem('metainfo.time.invalid', name, `The ${name} must be whole seconds since 1970.`),
      );
    }
  }
  checkSigningKey(keys.publicKey);
  const list = metainfoEntries(files)
    .map((entry) => `${entry.path} ${entry.sha1} ${entry.size}\n`)
    .join('');
  const signedText =
    list +
    '\n' +
    [
      '',
      formatPublicKey(keys.publicKey),
      String(timestamp),
      String(expiration),
      UNUSED_FIELD,
      UNUSED_FIELD,
    ].join(FIELD_SEPARATOR);
  const signature = modPow(digestMessage(signedText), keys.privateKey.d, keys.publicKey.n);
  return `${signedText}${FIELD_SEPARATOR} ${signature}`;
}

export interface MetainfoCheck {
  /** True when the signature verifies with the given key and the list parses. */
  valid: boolean;
  entries: MetainfoEntry[];
  timestamp?: number;
  expiration?: number;
  /** The key string written in the signature block. */
  signer?: string;
  problems: Problem[];
}

function invalid(problems: Problem[]): MetainfoCheck {
  return { valid: false, entries: [], problems };
}

/** The file list: one `<path> <sha1 hex> <size>` a line, blank lines skipped. */
function listedFiles(list: string, problems: Problem[]): MetainfoEntry[] {
  const entries: MetainfoEntry[] = [];
  list
    .slice(0, -1)
    .split('\n')
    .forEach((line, index) => {
      if (line.trim() === '') return;
      const parts = line.split(' ');
      const [path, hash, size] = parts;
      if (
        parts.length !== 3 ||
        path === undefined ||
        !/^[0-9a-f]{40}$/.test(hash ?? '') ||
        !/^[0-9]+$/.test(size ?? '')
      ) {
        problems.push(
          problem(
            'metainfo.line.malformed',
            `line ${index + 1}`,
            'A metainfo line must be "<path> <sha1 hex> <size>".',
          ),
        );
        return;
      }
      entries.push({ path, sha1: hash as string, size: Number(size) });
    });
  return entries;
}

/**
 * Checks a metainfo text the way the node's updater does (`signeddata_issignedcorrectly`):
 * the key in the block must be `publicKey`, and `signature^e mod n` must be 0x01 followed by the
 * SHA-1 of everything before the last `!`. Also parses the file list. When `now` (seconds) is
 * given, an expired signature is reported as a warning.
 */
export function verifyMetainfo(text: string, publicKey: PublicKey, now?: number): MetainfoCheck {
  const lastBang = text.lastIndexOf(FIELD_SEPARATOR);
  const signedText = lastBang < 0 ? '' : text.slice(0, lastBang);
  // signedText = <list>\n!<key>!<timestamp>!<expiration>!<sequence>!<destination>
  const fields = signedText.split(FIELD_SEPARATOR);
  if (lastBang < 0 || fields.length < 6) {
    return invalid([
      problem('metainfo.malformed', 'signature', 'The metainfo has no complete signature block.'),
    ]);
  }
  const [signer, rawTimestamp, rawExpiration] = fields.slice(-5);
  const list = fields.slice(0, -5).join(FIELD_SEPARATOR);
  const problems: Problem[] = [];
  if (signer !== formatPublicKey(publicKey)) {
    problems.push(
      problem(
        'metainfo.signer.mismatch',
        'signature',
        'The metainfo is signed for a different software-update key.',
      ),
    );
  }
  const signatureText = text.slice(lastBang + 1);
  if (!/^ [0-9]+$/.test(signatureText)) {
    problems.push(
      problem(
        'metainfo.signature.malformed',
        'signature',
        'The signature must be one space followed by a decimal number.',
      ),
    );
  } else {
    const recovered = modPow(BigInt(signatureText.slice(1)), publicKey.e, publicKey.n);
    const expected = digestMessage(signedText);
    if (recovered !== expected) {
      problems.push(
        problem(
          'metainfo.signature.bad',
          'signature',
          'The signature does not match the metainfo text.',
        ),
      );
    }
  }
  const timestamp = Number(rawTimestamp);
  const expiration = Number(rawExpiration);
  if (!list.endsWith('\n')) {
    problems.push(
      problem('metainfo.malformed', 'signature', 'The signature block must start on a new line.'),
    );
  }
  const entries = listedFiles(list, problems);
  if (now !== undefined && Number.isFinite(expiration) && expiration <= now) {
    problems.push(
      problem('metainfo.expired', 'signature', 'The metainfo signature has expired.', 'warning'),
    );
  }
  return {
    valid: !problems.some((p) => p.severity === 'error'),
    entries,
    timestamp: Number.isFinite(timestamp) ? timestamp : undefined,
    expiration: Number.isFinite(expiration) ? expiration : undefined,
    signer,
    problems,
  };
}
