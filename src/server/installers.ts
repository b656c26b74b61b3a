import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ArchiveFormat, Platform, PLATFORMS } from '../core/archive/index.ts';
import type { ResolvedConfig } from '../core/config.ts';
import { CibError, errorsOf, problem } from '../core/problems.ts';
import {
  knownUpdateKeys,
  softwareBuildProblems,
  softwareVerdictLine,
  type KnownUpdateKey,
  type SoftwareReport,
} from '../core/software.ts';
import { renderVesselinfo } from '../core/vesselinfo.ts';

/** base-installers/manifest.json (written by the base-installer tool). */
export interface BaseManifest {
  version?: string;
  bases: { platform: string; file: string; size?: number; sha256: string; version?: string }[];
}

export const CONTENT_TYPES: Record<ArchiveFormat, string> = {
  tgz: 'application/gzip',
  zip: 'application/zip',
  exe: 'application/vnd.microsoft.portable-executable',
};

/** Built installers kept in memory, least recently used dropped first. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export interface BuiltInstaller {
  bytes: Uint8Array;
  contentType: string;
  filename: string;
  /** Set when the base's software is signed by an unknown update key. */
  warning?: string;
}

export type PlatformInfo = (typeof PLATFORMS)[number];

/** The engine is loaded on first use, so the server starts (and the shim works) without it. */
const archive = () => import('../core/archive/index.ts');

export async function platformInfo(platform: string): Promise<PlatformInfo | undefined> {
  return (await archive()).PLATFORMS.find((p) => p.platform === platform);
}

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
  /** Software reports by base file, size and mtime, so /healthz does not re-read unchanged bases. */
  private reports = new Map<string, Promise<SoftwareReport | undefined>>();

  constructor(
    readonly basesDir: string,
    private readonly maxCacheBytes = DEFAULT_CACHE_BYTES,
    private readonly knownKeys: readonly KnownUpdateKey[] = knownUpdateKeys(),
  ) {}

  /** The software check of one base's bytes, remembered under `key`. */
  private software(key: string, base: Uint8Array): Promise<SoftwareReport | undefined> {
    let report = this.reports.get(key);
    if (!report) {
      report = import('../core/archive/software-walk.ts').then((walk) =>
        walk.checkInstallerSoftware(base, { knownKeys: this.knownKeys }),
      );
      report.catch(() => this.reports.delete(key));
      this.reports.set(key, report);
    }
    return report;
  }

  /**
   * The software verdict of every base the manifest lists (for /healthz): platform -> the
   * verdict and its sentence, or why the base could not be checked.
   */
  async softwareSummary(): Promise<Record<string, { verdict: string; summary: string }>> {
    const summary: Record<string, { verdict: string; summary: string }> = {};
    for (const entry of (await this.manifest()).bases) {
      const file = join(this.basesDir, basename(entry.file));
      try {
        const info = await stat(file);
        const key = `${file}:${info.size}:${info.mtimeMs}`;
        const cached = this.reports.get(key);
        const report = await (cached ?? this.software(key, new Uint8Array(await readFile(file))));
        summary[entry.platform] = report
          ? { verdict: report.verdict, summary: softwareVerdictLine(report) }
          : { verdict: 'not-checked', summary: 'The GUI executable is not checked.' };
      } catch (error) {
        summary[entry.platform] = {
          verdict: 'unreadable',
          summary: error instanceof CibError ? error.message : 'The base cannot be read.',
        };
      }
    }
    return summary;
  }

  async manifest(): Promise<BaseManifest> {
    let text: string;
    try {
      text = await readFile(join(this.basesDir, 'manifest.json'), 'utf8');
    } catch {
      throw new CibError(
        problem('base.manifest.missing', 'manifest.json', 'The base installers are not installed.'),
      );
    }
    const manifest = JSON.parse(text) as BaseManifest;
    if (!Array.isArray(manifest.bases)) {
      throw new CibError(
        problem('base.manifest.invalid', 'manifest.json', 'The manifest lists no base installers.'),
      );
    }
    return manifest;
  }

  /** The installer for `platform`, or undefined when no base exists for it. */
  async build(
    id: string,
    resolved: ResolvedConfig,
    platform: Platform,
  ): Promise<BuiltInstaller | undefined> {
    const info = await platformInfo(platform);
    const entry = (await this.manifest()).bases.find((b) => b.platform === platform);
    if (!info || !entry) return undefined;
    const key = `${id}/${platform}/${entry.sha256}`;
    const cached = this.cache.get(key);
    if (cached) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    let pending = this.building.get(key);
    if (!pending) {
      pending = this.customize(resolved, info, entry).finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    const built = await pending;
    this.remember(key, built);
    return built;
  }

  private async customize(
    resolved: ResolvedConfig,
    info: PlatformInfo,
    entry: BaseManifest['bases'][number],
  ): Promise<BuiltInstaller> {
    // The manifest names a file in basesDir; never follow a path out of it.
    const file = join(this.basesDir, basename(entry.file));
    const baseKey = `${file}:${entry.sha256}`;
    let base = this.bases.get(baseKey);
    if (!base) {
      base = new Uint8Array(await readFile(file));
      this.bases.set(baseKey, base);
    }
    let bytes: Uint8Array;
    let warning: string | undefined;
    try {
      // The manifest's SHA-256 says the file is the one listed; this says its software is signed.
      const report = await this.software(baseKey, base);
      const problems = report ? softwareBuildProblems(report, entry.file) : [];
      if (errorsOf(problems).length > 0) throw new CibError(problems);
      warning = problems[0]?.message;
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
      this.reports.delete(baseKey);
      throw error;
    }
    return {
      bytes,
      contentType: CONTENT_TYPES[info.format],
      filename: info.outputFile,
      ...(warning ? { warning } : {}),
    };
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
