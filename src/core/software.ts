/**
 * The software check: is the Seattle program inside an installer the one its update key signed,
 * and does this deployment trust that key? An EntryVisitor over any installer's entries
 * (docs/formats.md, "The software check", says what it proves and what it does not). It reads
 * `seattle/seattle_repy/metainfo`, verifies its signature the way Seattle's signeddata code does
 * (src/core/metainfo.ts), checks that the signer is the key the node trusts for updates, and
 * compares every file under `seattle_repy/` with the signed list by Seattle's rules
 * (src/core/software-rules.ts). Files not covered by the signature (the installer's own scripts)
 * are reported with their SHA-256.
 */
import type { ArchiveEntry, EntryVisitor } from './archive/entries.ts';
import { defaultDigester, type Digester } from './digest.ts';
import { fingerprint, formatPublicKey, parsePublicKey } from './keys.ts';
import { METAINFO_FILE, verifyMetainfo } from './metainfo.ts';
import { problem, type Problem } from './problems.ts';
import { SEATTLE_UPDATE_KEY } from './seattle-keys.ts';
import type { KnownUpdateKey } from './deployment-settings.ts';
import {
  isSeattleCode,
  nodeUpdateKey,
  PROGRAM_PREFIX,
  SOFTWAREUPDATER_FILE,
  UPDATE_KEY_FILE,
  unlistedRefusal,
} from './software-rules.ts';
import { demoKeySettingProblem, HOW_TO_TRUST, isDemoUpdateKey } from './update-trust.ts';
import { MAX_VESSELINFO_BYTES } from './vesselinfo.ts';

export { PROGRAM_PREFIX };
export const UPDATE_KEY_NAME = UPDATE_KEY_FILE;
/** Added by customisation after signing, so never listed. */
const VESSELINFO_NAME = 'vesselinfo';
/**
 * Bigger metainfo or key files are not Seattle's; refusing them bounds what is held. The same bound
 * as the vesselinfo's, since these files are smaller still.
 */
const MAX_TEXT_BYTES = MAX_VESSELINFO_BYTES;
/** The files whose text the check reads, relative to `seattle_repy/`. */
const TEXT_FILES = [METAINFO_FILE, UPDATE_KEY_FILE, SOFTWAREUPDATER_FILE];

export type { KnownUpdateKey };

export const SEATTLE_UPDATE_KEY_LABEL = 'the Seattle update key';

/** The Seattle update key, then the operator's own (from UPDATE_KEYS, config.json, --update-key). */
export function knownUpdateKeys(operatorKeys: readonly KnownUpdateKey[] = []): KnownUpdateKey[] {
  return [{ key: SEATTLE_UPDATE_KEY, label: SEATTLE_UPDATE_KEY_LABEL }, ...operatorKeys];
}

/**
 * - `intact`: signed by a key the deployment trusts, which is the key the node trusts for
 *   updates, and every listed file that is present is unchanged (builds go ahead; listed files
 *   left out and unsigned scripts are notes);
 * - `untrusted-key`: the same, but the deployment does not trust the key (builds refuse);
 * - `modified`: the signature holds but a listed file differs, or an unlisted file is code a
 *   node could run (builds refuse);
 * - `signature-fails`: the metainfo's signature does not verify, or its signer is not the key
 *   the node trusts, or that key cannot be read (builds refuse);
 * - `not-signed`: no metainfo at all (builds refuse).
 */
export type SoftwareVerdict =
  'intact' | 'untrusted-key' | 'modified' | 'signature-fails' | 'not-signed';

export interface OtherFile {
  path: string;
  size: number;
  sha256: string;
}

export interface SoftwareReport {
  verdict: SoftwareVerdict;
  /** The key the metainfo names, when it has a readable signature block. */
  key?: { fingerprint: string; key: string; trusted: boolean; label?: string };
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
  /** Listed files the installer leaves out: allowed, the node's updater fetches them. */
  missing: string[];
  /** Unlisted entries under `seattle_repy/` that are refused: code a node could run, or links. */
  unlisted: string[];
  /**
   * Files the signature does not cover and the check allows, with their SHA-256 to compare with
   * a published list: unlisted scripts under `seattle_repy/` and the installer's own files
   * outside it (full archive paths, sorted).
   */
  unsigned: OtherFile[];
  problems: Problem[];
}

export interface SoftwareCheckOptions {
  /** The update keys this deployment trusts (knownUpdateKeys, plus the demo key where earned). */
  knownKeys?: readonly KnownUpdateKey[];
  /** Seconds since 1970; when given, `expired` is reported. */
  now?: number;
  /** Digests the files (default: WebCrypto, else @noble/hashes; digest.ts). */
  digester?: Digester;
}

interface SeenFile {
  /** Listed-path spelling is unknown here; the case-folded path relative to seattle_repy/. */
  sha1?: string;
  /** Computed only for files that are not code, the ones the check may allow unlisted. */
  sha256?: string;
  size: number;
  regular: boolean;
}

function canonicalKey(text: string): string | undefined {
  const { key } = parsePublicKey(text);
  return key ? formatPublicKey(key) : undefined;
}

const latin1 = (bytes: Uint8Array) => new TextDecoder('latin1').decode(bytes);

type MetainfoCheck = ReturnType<typeof verifyMetainfo>;
type MetainfoEntry = MetainfoCheck['entries'][number];

/**
 * The metainfo's signature, checked with the key its own signature block names: that key in
 * canonical form, and the check (undefined when no key can be read). The metainfo's problems are
 * reported at its path, a failed signature as `software.signature.fails`.
 */
function checkSignature(
  text: string,
  problems: Problem[],
): { signer: string | undefined; check: MetainfoCheck | undefined } {
  const where = PROGRAM_PREFIX + METAINFO_FILE;
  const named = signerOf(text);
  const signerKey = named === undefined ? undefined : parsePublicKey(named).key;
  if (!signerKey) {
    const message = 'The metainfo has no readable signature block naming a public key.';
    problems.push(problem('software.signature.fails', where, message));
    return { signer: undefined, check: undefined };
  }
  const check = verifyMetainfo(text, signerKey);
  for (const p of check.problems) {
    const signature =
      p.code.startsWith('metainfo.signature') || p.code === 'metainfo.signer.mismatch';
    problems.push(
      problem(
        signature ? 'software.signature.fails' : p.code,
        p.path.startsWith('line') ? `${where}: ${p.path}` : where,
        p.message,
        p.severity,
      ),
    );
  }
  return { signer: formatPublicKey(signerKey), check };
}

/**
 * Collects what the check needs from a walk over an installer's entries; `finish()` gives the
 * report. Entries may arrive in any order; a later entry of the same path replaces an earlier
 * one, as extracting the archive would.
 */
export class SoftwareCheck implements EntryVisitor {
  private program = new Map<string, SeenFile>();
  private other = new Map<string, OtherFile>();
  private texts = new Map<string, Uint8Array | undefined>();
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
    if (TEXT_FILES.includes(inner)) {
      // A copy of these few small files: the walk may hand a member's bytes on once it has read
      // them (WalkOptions.onMemberRead).
      const keep = regular && data.length <= MAX_TEXT_BYTES ? data.slice() : undefined;
      if (regular && !keep) this.tooLarge.push(entry.path);
      this.texts.set(inner, keep);
    }
    const seen: SeenFile = { size: regular ? data.length : entry.size, regular };
    this.program.set(inner, seen);
    if (regular) {
      this.digest('SHA-1', data, (hex) => (seen.sha1 = hex));
      // The few files that are not code may turn out unlisted and allowed: reported by SHA-256.
      if (!isSeattleCode(inner)) this.digest('SHA-256', data, (hex) => (seen.sha256 = hex));
    }
  }

  /** The report; call after `settle()`, once every digest is in. */
  finish(): SoftwareReport {
    if (this.pending.length > 0) throw new Error('SoftwareCheck.finish() before settle().');
    const problems: Problem[] = this.tooLarge.map((path) =>
      problem('software.file.too-large', path, 'This file is far larger than Seattle writes it.'),
    );
    const metainfo = this.texts.get(METAINFO_FILE);
    if (!metainfo) return this.notSigned(problems);
    const { signer, check } = checkSignature(latin1(metainfo), problems);
    const keyOk = this.checkNodeKey(signer, problems);
    const files = this.compareFiles(check?.entries ?? [], problems);
    const { unlisted, unsigned } = this.unlistedFiles(files.named, problems);
    const changed = files.modified.length + unlisted.length > 0;
    const report: SoftwareReport = {
      verdict: !check?.valid || !keyOk ? 'signature-fails' : changed ? 'modified' : 'intact',
      ...(signer ? { key: { fingerprint: fingerprint(signer), key: signer, trusted: false } } : {}),
      ...this.datesOf(check),
      listed: files.listed,
      intact: files.intact,
      modified: files.modified,
      missing: files.missing,
      unlisted,
      unsigned,
      problems,
    };
    return applyTrust(report, this.options.knownKeys ?? knownUpdateKeys());
  }

  /** The report for an installer without a metainfo: nothing to compare its files against. */
  private notSigned(problems: Problem[]): SoftwareReport {
    problems.push(
      problem(
        'software.not-signed',
        PROGRAM_PREFIX + METAINFO_FILE,
        'The installer carries no metainfo: nothing says which Seattle software it holds.',
      ),
    );
    const { unlisted, unsigned } = this.unlistedFiles(new Set(), []);
    return {
      verdict: 'not-signed',
      listed: 0,
      intact: 0,
      modified: [],
      missing: [],
      unlisted,
      unsigned,
      problems,
    };
  }

  /**
   * The signed list against the files seen, case-folded as extractedPath folds entry paths:
   * which are intact, which changed, which are missing, and the folded names the list holds.
   */
  private compareFiles(entries: readonly MetainfoEntry[], problems: Problem[]) {
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
    for (const path of modified) {
      const message = 'This file differs from the signed list.';
      problems.push(problem('software.file.modified', PROGRAM_PREFIX + path, message));
    }
    return { listed: entries.length, intact, modified, missing, named };
  }

  /** The metainfo's dates, and whether it has expired when the caller said what time it is. */
  private datesOf(check: MetainfoCheck | undefined) {
    const timestamp = check?.timestamp;
    const expiration = check?.expiration;
    const now = this.options.now;
    const expired = now !== undefined && expiration !== undefined ? expiration <= now : undefined;
    return {
      ...(timestamp !== undefined ? { timestamp } : {}),
      ...(expiration !== undefined ? { expiration } : {}),
      ...(expired !== undefined ? { expired } : {}),
    };
  }

  /**
   * The signer must be the key the node trusts for updates (software-rules.ts `nodeUpdateKey`).
   * Pushes the problems; false when the key cannot be established or differs.
   */
  private checkNodeKey(signer: string | undefined, problems: Problem[]): boolean {
    const text = (name: string) => {
      const bytes = this.texts.get(name);
      return bytes === undefined ? undefined : latin1(bytes);
    };
    // A file present but too large to read counts as unreadable, not as absent.
    const present = (name: string) => this.program.has(name);
    const node = nodeUpdateKey({
      ...(present(SOFTWAREUPDATER_FILE) ? { updater: text(SOFTWAREUPDATER_FILE) ?? '' } : {}),
      ...(present(UPDATE_KEY_FILE) ? { publicKeyFile: text(UPDATE_KEY_FILE) ?? '' } : {}),
    });
    problems.push(...node.problems);
    if (!node.key) return false;
    if (signer !== undefined && node.key !== signer) {
      problems.push(
        problem(
          'software.update-key.mismatch',
          PROGRAM_PREFIX + (present(SOFTWAREUPDATER_FILE) ? SOFTWAREUPDATER_FILE : UPDATE_KEY_FILE),
          `The metainfo is signed by another key (${fingerprint(signer)}) than the one the node trusts for updates (${fingerprint(node.key)}), so the node's updater would not trust it.`,
        ),
      );
      return false;
    }
    return true;
  }

  /** Unlisted entries under seattle_repy/: refused ones by name, allowed ones with SHA-256. */
  private unlistedFiles(
    named: Set<string>,
    problems: Problem[],
  ): { unlisted: string[]; unsigned: OtherFile[] } {
    const unlisted: string[] = [];
    const unsigned: OtherFile[] = [...this.other.values()];
    for (const [path, seen] of this.program) {
      if (path === VESSELINFO_NAME || path === METAINFO_FILE || named.has(path)) continue;
      const refusal = unlistedRefusal(path, seen.regular);
      if (refusal === undefined) {
        unsigned.push({ path: PROGRAM_PREFIX + path, size: seen.size, sha256: seen.sha256 ?? '' });
      } else {
        unlisted.push(path);
        problems.push(problem('software.file.unlisted', PROGRAM_PREFIX + path, refusal));
      }
    }
    unlisted.sort(compare);
    unsigned.sort((a, b) => compare(a.path, b.path));
    return { unlisted, unsigned };
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

/**
 * The report judged against another list of trusted keys: only the key's trust, the verdict
 * between `intact` and `untrusted-key`, and the problem that says so change. A deployment
 * decides whether it trusts the demo key after its bases were checked (update-trust.ts), so
 * the walk need not be repeated.
 */
export function applyTrust(
  report: SoftwareReport,
  knownKeys: readonly KnownUpdateKey[],
): SoftwareReport {
  const problems = report.problems.filter((p) => p.code !== 'software.key.untrusted');
  if (!report.key) return { ...report, problems };
  const signer = report.key.key;
  const known = knownKeys.find((k) => canonicalKey(k.key) === signer);
  const key = {
    fingerprint: report.key.fingerprint,
    key: signer,
    trusted: known !== undefined,
    ...(known ? { label: known.label } : {}),
  };
  let verdict = report.verdict;
  if (verdict === 'intact' || verdict === 'untrusted-key') {
    verdict = known ? 'intact' : 'untrusted-key';
    if (!known) problems.push(untrustedKeyProblem(signer));
  }
  return { ...report, key, verdict, problems };
}

/** The refusal of a key the deployment does not trust: its fingerprint, and how to trust it. */
function untrustedKeyProblem(key: string): Problem {
  const where = PROGRAM_PREFIX + METAINFO_FILE;
  if (isDemoUpdateKey(key)) {
    return problem(
      'software.key.untrusted',
      where,
      `Signed by the demo update key (${fingerprint(key)}), whose private key is public: anyone can sign with it. It is trusted only in a deployment whose every base is signed by it, and no setting can trust it (docs/keys.md).`,
    );
  }
  return problem(
    'software.key.untrusted',
    where,
    `Signed by an update key this deployment does not trust (${fingerprint(key)}): whoever holds it could update the donor's machine for as long as Seattle runs there. ${HOW_TO_TRUST}`,
  );
}

/** Whether a build may go on: only an intact base signed by a trusted key. */
export function softwareBuildable(report: SoftwareReport): boolean {
  return report.verdict === 'intact';
}

function isoDate(seconds: number): string {
  // From the UTC fields: the first toISOString() of a process costs a short command about 1 ms.
  const date = new Date(seconds * 1000);
  const pad = (n: number, digits: number) => String(n).padStart(digits, '0');
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** The one-line verdict people read in inspect, the page and before builds. */
export function softwareVerdictLine(report: SoftwareReport): string {
  const when =
    report.timestamp !== undefined
      ? `, signed on ${isoDate(report.timestamp)}${
          report.expiration !== undefined
            ? `, ${report.expired ? 'expired' : 'expires'} ${isoDate(report.expiration)}`
            : ''
        }`
      : '';
  const fp = report.key ? ` (${report.key.fingerprint})` : '';
  switch (report.verdict) {
    case 'intact':
      return `Seattle software signed by ${report.key?.label ?? 'a trusted key'}${fp}, ${report.intact} files intact${when}.`;
    case 'untrusted-key':
      return report.key && isDemoUpdateKey(report.key.key)
        ? `Untrusted key: signed by the demo update key${fp}, whose private key is public; this deployment does not trust it${when}.`
        : `Untrusted key: signed by an update key this deployment does not trust${fp}${when}.`;
    case 'modified': {
      const differing = report.modified.length;
      const parts = [
        differing > 0
          ? `${plural(differing, 'file differs', 'files differ')} from the signed list`
          : '',
        report.unlisted.length > 0
          ? `${plural(report.unlisted.length, 'program file is', 'program files are')} not in it`
          : '',
      ].filter(Boolean);
      const who = report.key?.label
        ? `${report.key.label}${fp}`
        : report.key
          ? `the key ${report.key.fingerprint}`
          : 'no readable key';
      return `Modified: ${parts.join(', ')} (signed by ${who}${when}).`;
    }
    case 'signature-fails':
      return `Signature fails: the metainfo is not validly signed by the update key this installer's node trusts${fp}.`;
    case 'not-signed':
      return 'Not signed: the installer carries no metainfo, so its Seattle software cannot be checked.';
  }
}

/** A calm note beside a verdict: it never stops a build. */
export interface SoftwareNote {
  /** `left-out`: listed files the installer does not carry; `unsigned`: files no signature covers. */
  kind: 'left-out' | 'unsigned';
  text: string;
}

/**
 * The notes beside a verdict: listed files left out (the node's updater fetches them) and files
 * the signature does not cover (the installer's own scripts, listed with their SHA-256).
 */
export function softwareNotes(report: SoftwareReport): SoftwareNote[] {
  const notes: SoftwareNote[] = [];
  if (report.missing.length > 0)
    notes.push({
      kind: 'left-out',
      text: `${plural(report.missing.length, 'listed file is', 'listed files are')} not in this installer; the node's updater fetches them.`,
    });
  if (report.unsigned.length > 0)
    notes.push({
      kind: 'unsigned',
      text: `${plural(report.unsigned.length, 'file is', 'files are')} not covered by the signature (the installer's own scripts).`,
    });
  return notes;
}

/**
 * Problems for a build from this base: one error when it must be refused (the base may still
 * match the manifest, but its software is not what a trusted key signed), none otherwise.
 */
export function softwareBuildProblems(report: SoftwareReport, where = 'base'): Problem[] {
  if (softwareBuildable(report)) return [];
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

/**
 * Reads the operator's trusted keys from text: one `"e n"` per line, `#` comments, optional label
 * after `#`. The demo update key is refused: no setting can trust it (update-trust.ts).
 */
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
      const canonical = formatPublicKey(parsed.key);
      const demo = demoKeySettingProblem(canonical, path);
      if (demo) {
        problems.push(demo);
        return;
      }
      const label = comment.join('#').trim();
      keys.push({ key: canonical, label: label || 'an update key this deployment trusts' });
    }
  });
  return { keys, problems };
}
