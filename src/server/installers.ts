import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResolvedConfig } from '../core/config.ts';
import {
  MANIFEST_FILE,
  parseManifest,
  type BaseManifest,
  type BaseManifestEntry,
} from '../core/manifest.ts';
import { platformInfoOf, type Platform, type PlatformInfo } from '../core/platforms.ts';
import { CibError, problem, type Problem } from '../core/problems.ts';
import { renderVesselinfo } from '../core/vesselinfo.ts';

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

/**
 * Checks every base the manifest lists: present, with the size and SHA-256 given. Run once at
 * start-up, so a deployment with a wrong base never starts serving; returns the problems found.
 */
export async function checkBases(basesDir: string): Promise<Problem[]> {
  let manifest: BaseManifest;
  try {
    manifest = await readManifest(basesDir);
  } catch (error) {
    if (error instanceof CibError) return error.problems;
    throw error;
  }
  const problems: Problem[] = [];
  for (const entry of manifest.bases) {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(basesDir, entry.file));
    } catch {
      problems.push(
        problem('base.missing', entry.file, 'The manifest lists it, but the file is missing.'),
      );
      continue;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== entry.size || sha256 !== entry.sha256) {
      problems.push(
        problem(
          'base.sha256.mismatch',
          entry.file,
          `The file (${bytes.length} bytes, SHA-256 ${sha256}) is not the one the manifest lists (${entry.size} bytes, SHA-256 ${entry.sha256}).`,
        ),
      );
    }
  }
  return problems;
}

/** Built installers kept in memory, least recently used dropped first. */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export interface BuiltInstaller {
  bytes: Uint8Array;
  contentType: string;
  filename: string;
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

  constructor(
    readonly basesDir: string,
    private readonly maxCacheBytes = DEFAULT_CACHE_BYTES,
  ) {}

  manifest(): Promise<BaseManifest> {
    return readManifest(this.basesDir);
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
    entry: BaseManifestEntry,
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
      throw error;
    }
    return {
      bytes,
      contentType: info.mediaType,
      filename: info.outputFile,
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
