import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConfig } from '../core/config.ts';
import {
  MANIFEST_FILE,
  parseManifest,
  type BaseManifest,
  type BaseManifestEntry,
} from '../core/manifest.ts';
import { platformInfoOf, type Platform, type PlatformInfo } from '../core/platforms.ts';
import { CibError, errorsOf, problem, type Problem } from '../core/problems.ts';
import type { KnownUpdateKey } from '../core/settings.ts';
import {
  applyTrust,
  knownUpdateKeys,
  softwareBuildProblems,
  softwareNotes,
  softwareVerdictLine,
  type SoftwareReport,
} from '../core/software.ts';
import { deploymentTrustsDemoKey, withDemoKey } from '../core/update-trust.ts';
import { renderVesselinfo } from '../core/vesselinfo.ts';
import { sha256Hex } from '../node/hash.ts';

/** The manifest in `basesDir`, read and validated; a CibError says what is wrong. */
export async function readManifest(basesDir: string): Promise<BaseManifest> {
  let text: string;
  try {
    text = await readFile(join(basesDir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new CibError(
      problem('base.manifest.missing', MANIFEST_FILE, 'The base installers are not installed.'),
    );
  }
  const { manifest, problems } = parseManifest(text);
  if (!manifest)
    throw new CibError(problems.map((p) => ({ ...p, path: `${MANIFEST_FILE} ${p.path}` })));
  return manifest;
}

/** Built installers kept in memory, least recently used dropped first. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export interface BuiltInstaller {
  bytes: Uint8Array;
  contentType: string;
  filename: string;
}

interface FileDigest {
  stamp: string;
  size: number;
  sha256: string;
}

/** One base's state, as /healthz and the start-up check report it. */
export interface BaseState {
  platform: Platform;
  file: string;
  /** Present, with the size and SHA-256 the manifest lists. */
  problems: Problem[];
  /** The software check's verdict, sentence and notes; undefined for a base that is not there. */
  software?: { verdict: string; summary: string; notes?: string[] };
}

/** Which update keys the deployment trusts, decided from its bases (docs/keys.md). */
export interface DeploymentTrust {
  keys: KnownUpdateKey[];
  /** Every base's SHA-256 when all are signed by the demo update key, which is then trusted. */
  demoBases?: string[];
}

/** The engine is loaded on first use, so the server starts (and the shim works) without it. */
const archive = () => import('../core/archive/index.ts');

/**
 * Builds custom installers in Node with the same core the page uses: the base from `basesDir`
 * (its SHA-256 checked against the manifest) plus the build's vesselinfo. Results are cached by
 * build id, platform and base SHA-256, so replacing a base never serves a stale installer.
 */
export class InstallerBuilder {
  private cache = new Map<string, BuiltInstaller>();
  private cacheBytes = 0;
  private building = new Map<string, Promise<BuiltInstaller>>();
  private bases = new Map<string, Uint8Array>();
  /** Each base file's size and SHA-256, with the size and mtime they were read at. */
  private digests = new Map<string, FileDigest>();
  /** Software reports by the base's SHA-256: the verdict belongs to the bytes. */
  private reports = new Map<string, Promise<SoftwareReport | undefined>>();

  /**
   * `knownKeys`: the Seattle update key and the operator's (never the demo key: the bases decide
   * that, per manifest, in `trust()`).
   */
  constructor(
    readonly basesDir: string,
    private readonly maxCacheBytes = DEFAULT_CACHE_BYTES,
    private readonly knownKeys: readonly KnownUpdateKey[] = knownUpdateKeys(),
  ) {}

  manifest(): Promise<BaseManifest> {
    return readManifest(this.basesDir);
  }

  /** The software check of the base whose SHA-256 is `sha256`, computed once per content. */
  private software(sha256: string, base: Uint8Array): Promise<SoftwareReport | undefined> {
    let report = this.reports.get(sha256);
    if (!report) {
      report = import('../core/archive/base-check.ts').then((walk) =>
        walk.checkInstallerSoftware(base, { knownKeys: this.knownKeys }),
      );
      report.catch(() => this.reports.delete(sha256));
      this.reports.set(sha256, report);
    }
    return report;
  }

  /**
   * Every base the manifest lists: present with the size and SHA-256 given, and its software
   * verdict under the deployment's trust. The start-up check and /healthz both read it; a
   * malformed manifest is one problem.
   */
  async check(): Promise<{ problems: Problem[]; bases: BaseState[]; trust: DeploymentTrust }> {
    let manifest: BaseManifest;
    try {
      manifest = await this.manifest();
    } catch (error) {
      if (error instanceof CibError)
        return { problems: error.problems, bases: [], trust: { keys: [...this.knownKeys] } };
      throw error;
    }
    const read = await this.readBases(manifest);
    const trust = this.trustOf(read);
    const bases = read.map(({ state, report }) => {
      if (report) {
        const judged = applyTrust(report, trust.keys);
        state.software = {
          verdict: judged.verdict,
          summary: softwareVerdictLine(judged),
          notes: softwareNotes(judged).map((note) => note.text),
        };
      }
      return state;
    });
    return { problems: bases.flatMap((b) => b.problems), bases, trust };
  }

  /** The update keys the deployment trusts now: the operator's, and the demo key if earned. */
  async trust(): Promise<DeploymentTrust> {
    return (await this.check()).trust;
  }

  /**
   * The demo-key rule on what was read: trusted only when every listed base is there as listed
   * and validly signed by the demo key.
   */
  private trustOf(
    read: { state: BaseState; report?: SoftwareReport; sha256?: string }[],
  ): DeploymentTrust {
    const signers = read.map(({ state, report }) =>
      state.problems.length === 0 &&
      report?.key &&
      report.verdict !== 'signature-fails' &&
      report.verdict !== 'not-signed'
        ? report.key.key
        : undefined,
    );
    const demo = deploymentTrustsDemoKey(signers);
    return {
      keys: withDemoKey(this.knownKeys, demo),
      ...(demo ? { demoBases: read.map(({ sha256 }) => sha256!) } : {}),
    };
  }

  /** Each listed base's file checked against its entry, and its software report (trust aside). */
  private async readBases(
    manifest: BaseManifest,
  ): Promise<{ state: BaseState; report?: SoftwareReport; sha256?: string }[]> {
    const read: { state: BaseState; report?: SoftwareReport; sha256?: string }[] = [];
    for (const entry of manifest.bases) {
      const state: BaseState = { platform: entry.platform, file: entry.file, problems: [] };
      const file = join(this.basesDir, entry.file);
      let digest: FileDigest;
      let bytes: Uint8Array | undefined;
      try {
        // /healthz asks often: a file is read and hashed again only when it has changed.
        const info = await stat(file);
        const stamp = `${info.size}:${info.mtimeMs}`;
        const known = this.digests.get(file);
        if (known?.stamp === stamp) digest = known;
        else {
          bytes = new Uint8Array(await readFile(file));
          digest = { stamp, size: bytes.length, sha256: sha256Hex(bytes) };
          this.digests.set(file, digest);
        }
      } catch {
        state.problems.push(
          problem('base.missing', entry.file, 'The manifest lists it, but the file is missing.'),
        );
        read.push({ state });
        continue;
      }
      const { size, sha256 } = digest;
      if (size !== entry.size || sha256 !== entry.sha256) {
        state.problems.push(
          problem(
            'base.sha256.mismatch',
            entry.file,
            `The file (${size} bytes, SHA-256 ${sha256}) is not the one the manifest lists (${entry.size} bytes, SHA-256 ${entry.sha256}).`,
          ),
        );
      }
      try {
        const report = await (this.reports.get(sha256) ??
          this.software(sha256, bytes ?? new Uint8Array(await readFile(file))));
        if (!report)
          state.software = {
            verdict: 'not-checked',
            summary: 'The GUI executable is not checked.',
          };
        read.push({ state, ...(report ? { report } : {}), sha256 });
      } catch (error) {
        state.software = {
          verdict: 'unreadable',
          summary: error instanceof CibError ? error.message : 'The base cannot be read.',
        };
        read.push({ state, sha256 });
      }
    }
    return read;
  }

  /** The installer for `platform`, or undefined when no base exists for it. */
  async build(
    id: string,
    resolved: ResolvedConfig,
    platform: Platform,
  ): Promise<BuiltInstaller | undefined> {
    const info = platformInfoOf(platform);
    const entry = (await this.manifest()).bases.find((b) => b.platform === platform);
    if (!info || !entry) return undefined;
    // Whether the demo key is trusted depends on every base, so it is part of what was built.
    const { keys, demoBases } = await this.trust();
    const key = `${id}/${platform}/${entry.sha256}${demoBases ? '/demo' : ''}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.customize(resolved, info, entry, keys).finally(() =>
        this.building.delete(key),
      );
      this.building.set(key, pending);
    }
    const built = await pending;
    this.remember(key, built);
    return built;
  }

  private async customize(
    resolved: ResolvedConfig,
    info: PlatformInfo,
    entry: BaseManifestEntry,
    keys: readonly KnownUpdateKey[],
  ): Promise<BuiltInstaller> {
    // parseManifest admits only plain file names, so this stays inside basesDir.
    const file = join(this.basesDir, entry.file);
    const baseKey = `${file}:${entry.sha256}`;
    let base = this.bases.get(baseKey);
    if (!base) {
      base = new Uint8Array(await readFile(file));
      this.bases.set(baseKey, base);
    }
    let bytes: Uint8Array;
    try {
      // The manifest's SHA-256 says the file is the one listed; this says its software is what a
      // key this deployment trusts signed.
      const report = await this.software(entry.sha256, base);
      const problems = report ? softwareBuildProblems(applyTrust(report, keys), entry.file) : [];
      if (errorsOf(problems).length > 0) throw new CibError(problems);
      bytes = await (
        await archive()
      ).customizeInstaller({
        base,
        vesselinfo: renderVesselinfo(resolved),
        platform: info.platform,
        format: info.format,
        expectSha256: entry.sha256,
      });
    } catch (error) {
      this.bases.delete(baseKey); // the file may have been replaced: read it afresh next time
      this.reports.delete(entry.sha256);
      throw error;
    }
    return { bytes, contentType: info.mediaType, filename: info.outputFile };
  }

  private remember(key: string, built: BuiltInstaller): void {
    if (this.cache.has(key) || built.bytes.length > this.maxCacheBytes) return;
    this.cache.set(key, built);
    this.cacheBytes += built.bytes.length;
    for (const [oldKey, old] of this.cache) {
      if (this.cacheBytes <= this.maxCacheBytes) break;
      this.cache.delete(oldKey);
      this.cacheBytes -= old.bytes.length;
    }
  }
}
