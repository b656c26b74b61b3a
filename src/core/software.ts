/**
 * The software check: is the Seattle program inside an installer the one its update key signed?
 * An EntryVisitor over any installer's entries (docs/keys.md and the README's "Security and
 * limits" tell what it proves and what it does not). It reads `seattle/seattle_repy/metainfo`,
 * verifies its signature the way Seattle's signeddata code does (src/core/metainfo.ts), checks
 * that the signing key is the one in `softwareupdater.publickey`, says whether that key is known,
 * and compares every file under `seattle_repy/` with the signed list. The installer's own files
 * outside `seattle_repy/` are reported with their SHA-256.
 */
import type { ArchiveEntry, EntryVisitor } from './archive/entries.ts';
import { defaultDigester, type Digester } from './digest.ts';
import { fingerprint, formatPublicKey, parsePublicKey } from './keys.ts';
import { isListedInMetainfo, METAINFO_FILE, verifyMetainfo } from './metainfo.ts';
import { problem, type Problem } from './problems.ts';
import { SEATTLE_UPDATE_KEY } from './seattle-keys.ts';
import type { KnownUpdateKey } from './settings.ts';

/** Where the program lives in every installer (case-folded, as `extractedPath` gives it). */
export const PROGRAM_PREFIX = 'seattle/seattle_repy/';
export const UPDATE_KEY_NAME = 'softwareupdater.publickey';
/** Added by customisation after signing, so never listed. */
const VESSELINFO_NAME = 'vesselinfo';
/** Bigger metainfo or key files are not Seattle's; refusing them bounds what is held. */
const MAX_TEXT_BYTES = 4 * 1024 * 1024;

export type { KnownUpdateKey };

export const SEATTLE_UPDATE_KEY_LABEL = 'the Seattle update key';

/** The Seattle update key, then the operator's own (from UPDATE_KEYS, config.json, --update-key). */
export function knownUpdateKeys(operatorKeys: readonly KnownUpdateKey[] = []): KnownUpdateKey[] {
  return [{ key: SEATTLE_UPDATE_KEY, label: SEATTLE_UPDATE_KEY_LABEL }, ...operatorKeys];
}

/**
 * - `intact`: signed by a known key, every listed file present and unchanged;
 * - `unknown-key`: the same, but the key is not a known one (builds warn);
 * - `modified`: the signature holds but files differ from the signed list (builds refuse);
 * - `signature-fails`: the metainfo's signature does not verify, or names another key than the
 *   installer's `softwareupdater.publickey` (builds refuse);
 * - `not-signed`: no metainfo at all (builds refuse).
 */
export type SoftwareVerdict =
  'intact' | 'unknown-key' | 'modified' | 'signature-fails' | 'not-signed';

export interface OtherFile {
  path: string;
  size: number;
  sha256: string;
}

export interface SoftwareReport {
  verdict: SoftwareVerdict;
  /** The key the metainfo names, when it has a readable signature block. */
  key?: { fingerprint: string; known: boolean; label?: string };
  /** Signing time and expiry, seconds since 1970. */
  timestamp?: number;
  expiration?: number;
  /** Whether the expiry has passed (only when the caller gave the time); normal for old bases. */
  expired?: boolean;
  /** Files the metainfo lists, and how many of them are present and unchanged. */
  listed: number;
  intact: number;
  /** Listed files whose bytes, size or kind differ (paths as the metainfo writes them). */
  modified: string[];
  missing: string[];
  /** Files under `seattle_repy/` the metainfo does not name (the vesselinfo excepted). */
  unlisted: string[];
  /** The installer's own files outside `seattle_repy/`, to compare with a published list. */
  otherFiles: OtherFile[];
  problems: Problem[];
}

export interface SoftwareCheckOptions {
  knownKeys?: readonly KnownUpdateKey[];
  /** Seconds since 1970; when given, `expired` is reported. */
  now?: number;
  /** Digests the files (default: WebCrypto, else @noble/hashes; digest.ts). */
  digester?: Digester;
}

interface SeenFile {
  /** Listed-path spelling is unknown here; the case-folded path relative to seattle_repy/. */
  sha1?: string;
  size: number;
  regular: boolean;
}

function canonicalKey(text: string): string | undefined {
  const { key } = parsePublicKey(text);
  return key ? formatPublicKey(key) : undefined;
}

/**
 * Collects what the check needs from a walk over an installer's entries; `finish()` gives the
 * report. Entries may arrive in any order; a later entry of the same path replaces an earlier
 * one, as extracting the archive would.
 */
export class SoftwareCheck implements EntryVisitor {
  private program = new Map<string, SeenFile>();
  private other = new Map<string, OtherFile>();
  private metainfo?: Uint8Array;
  private updateKey?: Uint8Array;
  private tooLarge: string[] = [];
  /** Digests still being computed by the platform (WebCrypto runs them off this thread). */
  private pending: Promise<void>[] = [];

  constructor(private readonly options: SoftwareCheckOptions = {}) {}

  /** Hashes with the caller's digester; one that answers later is waited for in `settle()`. */
  private digest(algorithm: 'SHA-1' | 'SHA-256', data: Uint8Array, done: (hex: string) => void) {
    const hex = (this.options.digester ?? defaultDigester)(algorithm, data);
    if (typeof hex === 'string') done(hex);
    else this.pending.push(hex.then(done));
  }

  /** Waits for every digest; `finish()` reads them. */
  async settle(): Promise<void> {
    while (this.pending.length > 0) await Promise.all(this.pending.splice(0));
  }

  wantsData(entry: ArchiveEntry): boolean {
    return entry.type === 'file';
  }

  onEntry(entry: ArchiveEntry, data?: Uint8Array): void {
    if (entry.type === 'directory') return;
    const regular = entry.type === 'file' && data !== undefined;
    if (!entry.path.startsWith(PROGRAM_PREFIX)) {
      if (regular) {
        const file: OtherFile = { path: entry.path, size: data.length, sha256: '' };
        this.other.set(entry.path, file);
        this.digest('SHA-256', data, (hex) => (file.sha256 = hex));
      }
      return;
    }
    const inner = entry.path.slice(PROGRAM_PREFIX.length);
    if (inner === METAINFO_FILE || inner === UPDATE_KEY_NAME) {
      const keep = regular && data.length <= MAX_TEXT_BYTES ? data : undefined;
      if (regular && !keep) this.tooLarge.push(entry.path);
      if (inner === METAINFO_FILE) this.metainfo = keep;
      else this.updateKey = keep;
    }
    const seen: SeenFile = { size: regular ? data.length : entry.size, regular };
    this.program.set(inner, seen);
    if (regular) this.digest('SHA-1', data, (hex) => (seen.sha1 = hex));
  }

  /** The report; call after `settle()`, once every digest is in. */
  finish(): SoftwareReport {
    if (this.pending.length > 0) throw new Error('SoftwareCheck.finish() before settle().');
    const problems: Problem[] = this.tooLarge.map((path) =>
      problem('software.file.too-large', path, 'This file is far larger than Seattle writes it.'),
    );
    const otherFiles = [...this.other.values()].sort((a, b) => compare(a.path, b.path));
    const unlistedAll = [...this.program.keys()].filter(
      (p) => p !== VESSELINFO_NAME && p !== METAINFO_FILE,
    );
    const base = { listed: 0, intact: 0, modified: [], missing: [], otherFiles };
    if (!this.metainfo) {
      problems.push(
        problem(
          'software.not-signed',
          PROGRAM_PREFIX + METAINFO_FILE,
          'The installer carries no metainfo: nothing says which Seattle software it holds.',
        ),
      );
      return {
        ...base,
        verdict: 'not-signed',
        unlisted: unlistedAll.sort(compare),
        problems,
      };
    }
    const text = new TextDecoder('latin1').decode(this.metainfo);
    const signer = signerOf(text);
    const signerKey = signer === undefined ? undefined : parsePublicKey(signer).key;
    const where = PROGRAM_PREFIX + METAINFO_FILE;
    let signatureOk = false;
    let check: ReturnType<typeof verifyMetainfo> | undefined;
    if (!signerKey) {
      problems.push(
        problem(
          'software.signature.fails',
          where,
          'The metainfo has no readable signature block naming a public key.',
        ),
      );
    } else {
      check = verifyMetainfo(text, signerKey);
      signatureOk = check.valid;
      for (const p of check.problems) {
        problems.push(
          problem(
            p.code.startsWith('metainfo.signature') || p.code === 'metainfo.signer.mismatch'
              ? 'software.signature.fails'
              : p.code,
            p.path.startsWith('line') ? `${where}: ${p.path}` : where,
            p.message,
            p.severity,
          ),
        );
      }
    }
    let keyMatches = true;
    const canonicalSigner = signerKey ? formatPublicKey(signerKey) : undefined;
    if (!this.updateKey) {
      problems.push(
        problem(
          'software.update-key.missing',
          PROGRAM_PREFIX + UPDATE_KEY_NAME,
          'The installer carries no softwareupdater.publickey to compare the signing key with.',
          'warning',
        ),
      );
    } else if (
      canonicalSigner !== undefined &&
      canonicalKey(new TextDecoder('latin1').decode(this.updateKey)) !== canonicalSigner
    ) {
      keyMatches = false;
      problems.push(
        problem(
          'software.update-key.mismatch',
          PROGRAM_PREFIX + UPDATE_KEY_NAME,
          "The metainfo is signed by another key than the installer's softwareupdater.publickey, so the node's updater would not trust it.",
        ),
      );
    }
    const knownKeys = this.options.knownKeys ?? knownUpdateKeys();
    const known = canonicalSigner
      ? knownKeys.find((k) => canonicalKey(k.key) === canonicalSigner)
      : undefined;
    const key = canonicalSigner
      ? {
          fingerprint: fingerprint(canonicalSigner),
          known: known !== undefined,
          ...(known ? { label: known.label } : {}),
        }
      : undefined;

    // Compare the files, case-folded as extractedPath folds entry paths.
    const entries = check?.entries ?? [];
    const modified: string[] = [];
    const missing: string[] = [];
    const named = new Set<string>();
    let intact = 0;
    for (const listed of entries) {
      const folded = listed.path.toLowerCase();
      named.add(folded);
      const seen = this.program.get(folded);
      if (!seen) missing.push(listed.path);
      else if (!seen.regular || seen.sha1 !== listed.sha1 || seen.size !== listed.size)
        modified.push(listed.path);
      else intact++;
    }
    const unlisted = unlistedAll.filter((p) => !named.has(p)).sort(compare);
    // Files Seattle leaves out of the list by design (*.pyc, *.swp, *_repy.py) are shown, not failed.
    const unexpected = unlisted.filter((p) => isListedInMetainfo(p));
    for (const path of modified)
      problems.push(
        problem(
          'software.file.modified',
          PROGRAM_PREFIX + path,
          'This file differs from the signed list.',
        ),
      );
    for (const path of missing)
      problems.push(
        problem('software.file.missing', PROGRAM_PREFIX + path, 'This signed file is missing.'),
      );
    for (const path of unlisted)
      problems.push(
        problem(
          'software.file.unlisted',
          PROGRAM_PREFIX + path,
          isListedInMetainfo(path)
            ? 'This file is not in the signed list.'
            : 'This file is not in the signed list (Seattle never lists such files).',
          isListedInMetainfo(path) ? 'error' : 'warning',
        ),
      );
    if (key && !key.known && signatureOk && keyMatches) {
      problems.push(
        problem(
          'software.key.unknown',
          where,
          `The software is signed by an unknown update key (${key.fingerprint}), not by the Seattle update key or one this deployment lists.`,
          'warning',
        ),
      );
    }
    const timestamp = check?.timestamp;
    const expiration = check?.expiration;
    const expired =
      this.options.now !== undefined && expiration !== undefined
        ? expiration <= this.options.now
        : undefined;
    const verdict: SoftwareVerdict =
      !signatureOk || !keyMatches
        ? 'signature-fails'
        : modified.length + missing.length + unexpected.length > 0
          ? 'modified'
          : key?.known
            ? 'intact'
            : 'unknown-key';
    return {
      verdict,
      ...(key ? { key } : {}),
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
      ...(expired !== undefined ? { expired } : {}),
      listed: entries.length,
      intact,
      modified,
      missing,
      unlisted,
      otherFiles,
      problems,
    };
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The key field of the signature block (`…!<e n>!ts!exp!seq!dest!sig`), if there is one. */
function signerOf(text: string): string | undefined {
  const fields = text.split('!');
  return fields.length >= 7 ? fields[fields.length - 6] : undefined;
}

/** Whether a build may go on: refused unless the signature holds and every file matches. */
export function softwareBuildable(report: SoftwareReport): boolean {
  return report.verdict === 'intact' || report.verdict === 'unknown-key';
}

function isoDate(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 10);
}

/** The one-line verdict people read in inspect, the page and before builds. */
export function softwareVerdictLine(report: SoftwareReport): string {
  const signedBy = report.key
    ? report.key.known
      ? `${report.key.label} (${report.key.fingerprint})`
      : `an unknown key (${report.key.fingerprint})`
    : 'no key';
  const when =
    report.timestamp !== undefined
      ? `, signed on ${isoDate(report.timestamp)}${
          report.expiration !== undefined
            ? `, ${report.expired ? 'expired' : 'expires'} ${isoDate(report.expiration)}`
            : ''
        }`
      : '';
  const differing = report.modified.length + report.missing.length;
  switch (report.verdict) {
    case 'intact':
      return `Seattle software signed by ${signedBy}, ${report.intact} files intact${when}.`;
    case 'unknown-key':
      return `Seattle software signed by ${signedBy}, ${report.intact} files intact${when}. Signed by an unknown key: check that you trust who signed it.`;
    case 'modified': {
      const extra = report.unlisted.filter((p) => isListedInMetainfo(p)).length;
      const parts = [
        differing > 0
          ? `${differing} file${differing === 1 ? '' : 's'} differ${differing === 1 ? 's' : ''} from the signed list`
          : '',
        extra > 0 ? `${extra} file${extra === 1 ? ' is' : 's are'} not in it` : '',
      ].filter(Boolean);
      return `Modified: ${parts.join(', ')} (signed by ${signedBy}${when}).`;
    }
    case 'signature-fails':
      return `Signature fails: the metainfo is not validly signed by the update key this installer carries${report.key ? ` (${report.key.fingerprint})` : ''}.`;
    case 'not-signed':
      return 'Not signed: the installer carries no metainfo, so its Seattle software cannot be checked.';
  }
}

/**
 * Problems for a build from this base: errors when it must be refused (the base still matches
 * the manifest, but its software is not what the update key signed), a warning for an unknown key.
 */
export function softwareBuildProblems(report: SoftwareReport, where = 'base'): Problem[] {
  if (softwareBuildable(report)) {
    return report.verdict === 'unknown-key'
      ? [problem('software.key.unknown', where, softwareVerdictLine(report), 'warning')]
      : [];
  }
  const details = report.problems
    .filter((p) => p.severity === 'error')
    .slice(0, 10)
    .map((p) => `${p.path}: ${p.message}`);
  return [
    problem(
      `software.${report.verdict}`,
      where,
      `The base installer is refused: ${softwareVerdictLine(report)}${details.length ? ` ${details.join(' ')}` : ''}`,
    ),
  ];
}

/** Reads the operator's known keys from text: one `"e n"` per line, `#` comments, optional label after `#`. */
export function parseUpdateKeys(
  text: string,
  source: string,
): { keys: KnownUpdateKey[]; problems: Problem[] } {
  const keys: KnownUpdateKey[] = [];
  const problems: Problem[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const [body = '', ...comment] = raw.split('#');
    if (body.trim() === '') return;
    const path = `${source}: line ${index + 1}`;
    const parsed = parsePublicKey(body, path);
    problems.push(...parsed.problems.filter((p) => p.severity === 'error'));
    if (parsed.key) {
      const label = comment.join('#').trim();
      const fp = fingerprint(parsed.key);
      keys.push({ key: formatPublicKey(parsed.key), label: label || `the update key ${fp}` });
    }
  });
  return { keys, problems };
}
