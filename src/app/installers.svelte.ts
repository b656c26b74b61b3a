/**
 * What the installers panel does, apart from how it looks: load the list of bases, fetch the
 * visitor's own base ahead of the click, build and save an installer, and say which installers
 * can still be built offline (README, "Offline"). Bytes stay in the worker; a file is only ever
 * saved whole, from a base whose SHA-256 matched. InstallersPanel.svelte renders this state.
 */
import { PLATFORMS, platformLabel, type Platform, type PlatformInfo } from '../core/platforms.ts';
import { CibError } from '../core/problems.ts';
import type { KnownUpdateKey, SoftwareReport } from '../core/software.ts';
import { baseRequest, getManifest, type BaseEntry, type BaseManifest } from './base-requests.ts';
import { prepareSaving, saveFile } from './downloads.ts';
import { network, whileBasesLoad } from './offline.svelte.ts';
import { visitorPlatform } from './os.ts';
import { trustedKeysFor, type PageConfig } from './page-config.ts';
import {
  buildInWorker,
  forgetOtherBasesInWorker,
  keptBasesInWorker,
  prepareBaseInWorker,
  startWorker,
  type BaseProgress,
} from './worker-client.ts';

/** Where one platform's installer stands, from the first click or prefetch to the saved file. */
export type Phase =
  'idle' | 'starting' | 'downloading' | 'checking' | 'ready' | 'writing' | 'done' | 'error';

export interface Status {
  phase: Phase;
  loaded: number;
  total: number | undefined;
  message: string;
  /** After a build: the base's software check, shown with its notes. */
  software?: SoftwareReport;
}

/** A platform this builder has a base for, with the manifest entry for that base. */
export type Offered = PlatformInfo & { entry: BaseEntry };

/** What a build needs from the panel: the deployment and the vesselinfo to write, when asked. */
export interface InstallersInput {
  config: () => PageConfig;
  vesselinfo: () => string;
}

function messageOf(error: unknown): string {
  if (error instanceof CibError) return error.problems.map((p) => p.message).join(' ');
  return error instanceof Error ? error.message : String(error);
}

function statusOf(phase: Phase, message = ''): Status {
  return { phase, loaded: 0, total: undefined, message };
}

/** The note shown offline: which installers can still be built from bases kept here. */
export function offlineNoteOf(offered: readonly Offered[], kept: readonly Platform[]): string {
  const can = offered.filter((o) => kept.includes(o.platform)).map((o) => o.label);
  const cannot = offered.filter((o) => !kept.includes(o.platform)).map((o) => o.label);
  if (can.length === 0)
    return 'You are offline, and no base installer is kept on this device yet: installers can be built once the network is back.';
  const needs = cannot.length
    ? ` ${cannot.join(', ')} need${cannot.length === 1 ? 's' : ''} the network.`
    : '';
  return `You are offline. Installers can still be built for ${can.join(', ')}: their base installers are kept on this device.${needs}`;
}

export class Installers {
  bases = $state<BaseEntry[]>([]);
  manifestError = $state('');
  loading = $state(true);
  status = $state<Record<string, Status>>({});
  /** The platform matching this computer (or the one a link asked for), first in the list. */
  preferred = $state<Platform>();
  /** Offline: the platforms whose base is kept on this device (undefined while asking). */
  kept = $state<Platform[]>();

  /** The platforms with a base: the visitor's own first, the rest in their usual order. */
  offered: Offered[] = $derived.by(() => {
    const all = PLATFORMS.flatMap((p) => {
      const entry = this.bases.find((b) => b.platform === p.platform);
      return entry ? [{ ...p, entry }] : [];
    });
    return [
      ...all.filter((p) => p.platform === this.preferred),
      ...all.filter((p) => p.platform !== this.preferred),
    ];
  });

  offlineNote = $derived(this.kept ? offlineNoteOf(this.offered, this.kept) : '');

  /** The update keys this deployment trusts for the manifest's bases (docs/keys.md). */
  #trustedKeys: KnownUpdateKey[] = [];
  /** Builds under way; not reactive, checked and set in the same tick as the click. */
  #building: Partial<Record<Platform, true>> = {};
  /**
   * Platforms someone has asked to build: from then on their build owns the status, and a
   * prefetch that ends later (its answer may cross the worker boundary after the build's) says
   * nothing.
   */
  #asked: Partial<Record<Platform, true>> = {};
  #input: InstallersInput;

  constructor(input: InstallersInput) {
    this.#input = input;
  }

  /**
   * Starts the worker and loads the list of bases; then builds `autoPlatform` at once (a link
   * that names a platform) or fetches this computer's base ahead of the click.
   */
  start(autoPlatform?: Platform): void {
    // The worker and the saving code load while the list of bases does.
    startWorker();
    prepareSaving();
    getManifest(this.#input.config().baseInstallersUrl)
      .then((manifest) => this.#received(manifest, autoPlatform))
      .catch((error: unknown) => {
        this.loading = false;
        this.manifestError = error instanceof Error ? error.message : String(error);
      });
  }

  /** Builds the installer for `platform` and saves it; a second click meanwhile changes nothing. */
  async build(platform: Platform): Promise<void> {
    const target = this.#offer(platform);
    if (!target || this.#building[platform]) return;
    this.#building[platform] = true;
    this.#asked[platform] = true;
    const current = this.status[platform]?.phase;
    if (current !== 'downloading' && current !== 'checking')
      this.status[platform] = statusOf('starting');
    try {
      const { installer, software } = await whileBasesLoad(
        buildInWorker({
          base: this.#request(target.entry),
          vesselinfo: this.#input.vesselinfo(),
          platform,
          mediaType: target.mediaType,
          onProgress: (p) => this.#show(platform, p),
        }),
      );
      await saveFile(installer, target.outputFile);
      this.status[platform] = {
        ...statusOf('done', `Saved ${target.outputFile}.`),
        ...(software ? { software } : {}),
      };
    } catch (error) {
      this.status[platform] = statusOf(
        'error',
        `${target.outputFile} was not saved. ${messageOf(error)}`,
      );
    } finally {
      delete this.#building[platform];
    }
  }

  /**
   * Offline, asks the worker which bases it keeps, and again whenever a base finishes (a build or
   * a prefetch may have just kept one). Call inside an effect; returns its cleanup.
   */
  followKept(): () => void {
    if (network.online || this.loading || this.bases.length === 0) {
      this.kept = undefined;
      return () => undefined;
    }
    let current = true;
    void Object.values(this.status).map((s) => s.phase);
    keptBasesInWorker(this.#requests())
      .then((platforms) => {
        if (current) this.kept = platforms;
      })
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }

  #received(manifest: BaseManifest, autoPlatform: Platform | undefined): void {
    this.#trustedKeys = trustedKeysFor($state.snapshot(this.#input.config()), manifest);
    this.bases = manifest.bases;
    this.loading = false;
    // The manifest check: bases kept from an earlier deployment of this folder are dropped.
    if (network.online)
      void forgetOtherBasesInWorker(this.#input.config().baseInstallersUrl, this.#requests()).catch(
        () => undefined,
      );
    const has = (platform: Platform) => manifest.bases.some((b) => b.platform === platform);
    if (autoPlatform) {
      if (has(autoPlatform)) {
        this.preferred = autoPlatform;
        void this.build(autoPlatform);
      } else
        this.manifestError = `There is no ${platformLabel(autoPlatform)} installer on this builder; choose another platform below.`;
      return;
    }
    const mine = visitorPlatform(
      navigator as Navigator & { userAgentData?: { platform?: string } },
    );
    if (mine && has(mine)) {
      this.preferred = mine;
      this.#prefetch(mine);
    }
  }

  /** Fetches and checks a base in the background; its progress shows until someone clicks. */
  #prefetch(platform: Platform): void {
    const target = this.#offer(platform);
    if (!target) return;
    const quiet = () => this.#asked[platform] === true;
    void Promise.resolve()
      .then(() =>
        whileBasesLoad(
          prepareBaseInWorker(this.#request(target.entry), (p) => {
            if (!quiet()) this.#show(platform, p);
          }),
        ),
      )
      .then(() => {
        if (!quiet()) this.status[platform] = statusOf('ready');
      })
      .catch((error: unknown) => {
        if (!quiet())
          this.status[platform] = statusOf(
            'error',
            `The ${target.label} base installer is not ready. ${messageOf(error)}`,
          );
      });
  }

  #show(platform: Platform, progress: BaseProgress): void {
    this.status[platform] =
      progress.phase === 'downloading'
        ? { phase: 'downloading', loaded: progress.loaded, total: progress.total, message: '' }
        : statusOf(progress.phase);
  }

  #offer(platform: Platform): Offered | undefined {
    return this.offered.find((o) => o.platform === platform);
  }

  #request(entry: BaseEntry) {
    return baseRequest(this.#input.config().baseInstallersUrl, entry, this.#trustedKeys);
  }

  #requests() {
    return this.bases.map((entry) => this.#request(entry));
  }
}
