import type { BuildConfig, ResolvedConfig } from '../core/build-config.ts';
import { checkUserNames, resolveValidConfig, validateConfig } from '../core/build-config.ts';
import { fingerprint } from '../core/keys.ts';
import { importPublicKey, type KeyFormat } from '../core/keyimport.ts';
import { errorsOf, problem, type Problem } from '../core/problems.ts';
import { MAX_USER_VESSELS, PERCENT_STEP } from '../core/deployment-settings.ts';
import type { PageConfig } from './page-config.ts';

export type KeySource = 'pasted' | 'uploaded' | 'generated';

export interface BuilderUser {
  id: string;
  name: string;
  /** Seattle public-key string "e n" (imported keys are converted on entry). */
  publicKey: string;
  /** Only for keys generated here; kept across reloads only when the person opts in. */
  privateKey?: string;
  source: KeySource;
  format?: KeyFormat;
  fingerprint: string;
  /** The core's findings about the key (warnings such as a weak key). */
  problems: Problem[];
}

export interface BuilderVessel {
  id: string;
  percentage: number;
  /** A user id, or '' while no owner is assigned. */
  owner: string;
  /** User ids. */
  users: string[];
}

/** Where the builder is kept between visits. Never holds private keys unless opted in. */
export const STORAGE_KEY = 'cib.builder.v1';

interface Saved {
  version: 1;
  users: { id: string; name: string; publicKey: string; privateKey?: string; source: KeySource }[];
  vessels: BuilderVessel[];
  rememberPrivateKeys: boolean;
  privateKeysSavedFor: string;
}

let counter = 0;
function newId(prefix: string): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/** The file name minus a key extension, as the old builder named uploaded keys. */
export function nameFromFileName(fileName: string): string {
  return fileName.replace(/\.(publickey|pub|pem)$/i, '');
}

/** Everything needed to add a user; the key text is imported (Seattle, PEM or OpenSSH) by the core. */
export interface NewUser {
  name: string;
  keyText: string;
  source: KeySource;
  privateKey?: string;
  /** Shown in problem paths, e.g. the uploaded file name. */
  origin?: string;
}

export class Builder {
  readonly settings: PageConfig;
  users = $state<BuilderUser[]>([]);
  vessels = $state<BuilderVessel[]>([]);
  /** The person chose to keep generated private keys in this browser's storage. */
  rememberPrivateKeys = $state(false);
  /** Signature of the generated keys whose private_keys.zip was saved. */
  privateKeysSavedFor = $state('');

  readonly userShare: number;

  constructor(
    settings: PageConfig,
    private readonly storage: Storage | undefined = globalThis.localStorage,
  ) {
    this.settings = settings;
    this.userShare = 100 - settings.reservedShare;
    if (!this.load()) this.reset();
  }

  /** Writes the builder to storage whenever it changes; call once from the root component. */
  persist(): () => void {
    return $effect.root(() => {
      $effect(() => {
        const saved = this.snapshot();
        try {
          this.storage?.setItem(STORAGE_KEY, JSON.stringify(saved));
        } catch {
          // Storage full or disabled: the page still works, it just forgets on reload.
        }
      });
    });
  }

  snapshot(): Saved {
    return {
      version: 1,
      users: this.users.map((u) => ({
        id: u.id,
        name: u.name,
        publicKey: u.publicKey,
        source: u.source,
        ...(this.rememberPrivateKeys && u.privateKey ? { privateKey: u.privateKey } : {}),
      })),
      vessels: this.vessels.map((v) => ({
        id: v.id,
        percentage: v.percentage,
        owner: v.owner,
        users: [...v.users],
      })),
      rememberPrivateKeys: this.rememberPrivateKeys,
      privateKeysSavedFor: this.privateKeysSavedFor,
    };
  }

  private load(): boolean {
    let saved: Partial<Saved>;
    try {
      const text = this.storage?.getItem(STORAGE_KEY);
      if (!text) return false;
      saved = JSON.parse(text) as Partial<Saved>;
    } catch {
      return false;
    }
    if (saved.version !== 1 || !Array.isArray(saved.users) || !Array.isArray(saved.vessels))
      return false;
    const users: BuilderUser[] = [];
    for (const u of saved.users) {
      if (
        typeof u?.id !== 'string' ||
        typeof u.name !== 'string' ||
        typeof u.publicKey !== 'string'
      )
        continue;
      const imported = importPublicKey(u.publicKey);
      if (!imported.publicKey) continue;
      users.push({
        id: u.id,
        name: u.name,
        publicKey: imported.publicKey,
        source: u.source === 'generated' || u.source === 'uploaded' ? u.source : 'pasted',
        ...(typeof u.privateKey === 'string' ? { privateKey: u.privateKey } : {}),
        ...(imported.format ? { format: imported.format } : {}),
        fingerprint: fingerprint(imported.publicKey),
        problems: imported.problems,
      });
    }
    const ids = users.map((u) => u.id);
    const vessels = saved.vessels
      .filter((v) => typeof v?.id === 'string' && Number.isInteger(v.percentage))
      .slice(0, MAX_USER_VESSELS)
      .map((v) => ({
        id: v.id,
        percentage: v.percentage,
        owner: ids.includes(v.owner) ? v.owner : '',
        users: Array.isArray(v.users) ? v.users.filter((id) => ids.includes(id)) : [],
      }));
    if (vessels.length === 0) return false;
    this.users = users;
    this.vessels = vessels;
    this.rememberPrivateKeys = saved.rememberPrivateKeys === true;
    this.privateKeysSavedFor =
      typeof saved.privateKeysSavedFor === 'string' ? saved.privateKeysSavedFor : '';
    return true;
  }

  /** The default: one vessel with the whole user share, no users. */
  reset(): void {
    this.users = [];
    this.vessels = [{ id: newId('v'), percentage: this.userShare, owner: '', users: [] }];
    this.privateKeysSavedFor = '';
    this.rememberPrivateKeys = false;
  }

  // ---- users -------------------------------------------------------------------------------

  /** Adds a user; returns the problems of the key (errors mean nothing was added). */
  addUser(entry: NewUser): Problem[] {
    const imported = importPublicKey(entry.keyText, entry.origin ?? 'key');
    if (!imported.publicKey || errorsOf(imported.problems).length > 0) {
      return imported.problems.length > 0
        ? imported.problems
        : [
            problem(
              'key.public.malformed',
              entry.origin ?? 'key',
              'This is not a public key the builder understands.',
            ),
          ];
    }
    const id = newId('u');
    this.users.push({
      id,
      name: entry.name.trim(),
      publicKey: imported.publicKey,
      source: entry.source,
      ...(entry.privateKey ? { privateKey: entry.privateKey } : {}),
      ...(imported.format ? { format: imported.format } : {}),
      fingerprint: fingerprint(imported.publicKey),
      problems: imported.problems,
    });
    // The common case, a donor with one key: the first user owns the only vessel (changeable).
    const only = this.vessels.length === 1 ? this.vessels[0] : undefined;
    if (only && !only.owner && this.users.length === 1) only.owner = id;
    return imported.problems;
  }

  renameUser(id: string, name: string): void {
    const user = this.users.find((u) => u.id === id);
    if (user) user.name = name.trim();
  }

  removeUser(id: string): void {
    this.users = this.users.filter((u) => u.id !== id);
    for (const vessel of this.vessels) {
      if (vessel.owner === id) vessel.owner = '';
      vessel.users = vessel.users.filter((u) => u !== id);
    }
  }

  userById(id: string): BuilderUser | undefined {
    return this.users.find((u) => u.id === id);
  }

  // ---- vessels -----------------------------------------------------------------------------

  get allocated(): number {
    return this.vessels.reduce((sum, v) => sum + v.percentage, 0);
  }

  /** The part of the user share no vessel has yet. */
  get unassigned(): number {
    return this.userShare - this.allocated;
  }

  get canAddVessel(): boolean {
    return (
      this.vessels.length < MAX_USER_VESSELS &&
      (this.unassigned >= PERCENT_STEP || this.vessels.some((v) => v.percentage > PERCENT_STEP))
    );
  }

  /**
   * Adds a vessel holding the unassigned share when there is one (on the grid); otherwise a 10%
   * vessel, taking the 10% from the largest vessel so the total stays right.
   */
  addVessel(): void {
    if (!this.canAddVessel) return;
    const free = this.unassigned - (this.unassigned % PERCENT_STEP);
    if (free >= PERCENT_STEP) {
      this.vessels.push({ id: newId('v'), percentage: free, owner: '', users: [] });
      return;
    }
    const largest = this.vessels.reduce((a, b) => (b.percentage > a.percentage ? b : a));
    largest.percentage -= PERCENT_STEP;
    this.vessels.push({ id: newId('v'), percentage: PERCENT_STEP, owner: '', users: [] });
  }

  /** Removes a vessel and gives its share to the first remaining vessel. */
  removeVessel(id: string): void {
    if (this.vessels.length <= 1) return;
    const index = this.vessels.findIndex((v) => v.id === id);
    const removed = this.vessels[index];
    if (!removed) return;
    this.vessels.splice(index, 1);
    const receiver = this.vessels[0];
    if (receiver) receiver.percentage += removed.percentage;
  }

  setPercentage(id: string, percentage: number): void {
    const vessel = this.vessels.find((v) => v.id === id);
    if (vessel) vessel.percentage = percentage;
  }

  setOwner(vesselId: string, userId: string): void {
    const vessel = this.vessels.find((v) => v.id === vesselId);
    if (vessel) vessel.owner = userId;
  }

  setVesselUser(vesselId: string, userId: string, included: boolean): void {
    const vessel = this.vessels.find((v) => v.id === vesselId);
    if (!vessel) return;
    const has = vessel.users.includes(userId);
    if (included && !has) vessel.users.push(userId);
    if (!included && has) vessel.users = vessel.users.filter((u) => u !== userId);
  }

  // ---- configuration and validation --------------------------------------------------------

  /** The configuration in the XML-RPC shape (docs/formats.md#build-configuration), the core's input. */
  readonly config: BuildConfig = $derived.by(() => {
    const nameOf = (id: string) => this.userById(id)?.name ?? '';
    // fromEntries defines own properties, so even a name like "__proto__" stays an ordinary key.
    const userData: Record<string, { public_key: string }> = Object.fromEntries(
      this.users.map((user) => [user.name, { public_key: user.publicKey }]),
    );
    return {
      // An unassigned owner is left out, so the core reports "Every vessel needs an owner."
      vessels: this.vessels.map((v) => ({
        percentage: v.percentage,
        ...(v.owner ? { owner: nameOf(v.owner) } : {}),
        users: v.users.map(nameOf),
      })) as BuildConfig['vessels'],
      user_data: userData,
    };
  });

  /** Every problem: the core's validation plus duplicate names, which a name-keyed map hides. */
  readonly problems: Problem[] = $derived.by(() => {
    // Names are checked on the list too: in the name-keyed user_data two equal names collapse.
    const duplicates = checkUserNames(
      this.users.map((u) => u.name),
      (index) => `users[${index}].name`,
    ).filter((p) => p.code === 'user.name.duplicate');
    const core = validateConfig(this.config, this.settings).problems;
    return duplicates.length > 0
      ? [...core.filter((p) => p.code !== 'user.name.duplicate'), ...duplicates]
      : core;
  });

  /** Resolves the configuration with the core; undefined while there are errors. */
  async resolve(): Promise<ResolvedConfig | undefined> {
    if (errorsOf(this.problems).length > 0) return undefined;
    const { config } = validateConfig(this.config, this.settings);
    if (!config) return undefined;
    const { resolved } = await resolveValidConfig(config, this.settings, {
      keyBits: this.settings.defaultKeyBits,
    });
    return resolved;
  }

  // ---- private keys ------------------------------------------------------------------------

  /** Users whose key was generated here and whose private key this page still holds. */
  get generatedKeys(): BuilderUser[] {
    return this.users.filter((u) => u.source === 'generated' && u.privateKey);
  }

  /** Generated users whose private key is gone (a reload without the opt-in). */
  get lostPrivateKeys(): BuilderUser[] {
    return this.users.filter((u) => u.source === 'generated' && !u.privateKey);
  }

  get generatedSignature(): string {
    return privateKeySignature(this.generatedKeys);
  }

  /** True when private_keys.zip must be saved before the installers are offered (README, "The page"). */
  get mustSavePrivateKeys(): boolean {
    return this.generatedKeys.length > 0 && this.privateKeysSavedFor !== this.generatedSignature;
  }

  markPrivateKeysSaved(): void {
    this.privateKeysSavedFor = this.generatedSignature;
  }
}

/** Names and fingerprints of a set of generated keys: no key material. */
export function privateKeySignature(
  users: readonly { name: string; fingerprint: string }[],
): string {
  return users
    .map((u) => `${u.name}:${u.fingerprint}`)
    .sort()
    .join(',');
}

/** Maps a problem path to the thing it concerns in the builder. */
export function problemsAt(problems: readonly Problem[], prefix: string): Problem[] {
  return problems.filter(
    (p) => p.path === prefix || p.path.startsWith(`${prefix}.`) || p.path.startsWith(`${prefix}[`),
  );
}

/** The problems about one user, whether the core names it by index or by name. */
export function problemsOfUser(
  problems: readonly Problem[],
  index: number,
  name: string,
): Problem[] {
  const prefixes = [
    `users[${index}]`,
    `user_data.${name}`,
    `user_data["${name}"]`,
    `user_data['${name}']`,
  ];
  return problems.filter((p) =>
    prefixes.some(
      (prefix) =>
        p.path === prefix || p.path.startsWith(prefix + '.') || p.path.startsWith(prefix + '['),
    ),
  );
}
