/**
 * The build configuration (docs/formats.md#build-configuration) and the one validation every caller
 * uses: the page, the command line and the XML-RPC shim all call `validateConfig`, so a rule is
 * written once and gives the same code, place and sentence everywhere.
 */
import { parsePublicKey } from './keys.ts';
import { generateKeyPair, type KeyPair } from './keygen.ts';
import { CibError, errorsOf, problem, type Problem } from './problems.ts';
import {
  checkReservedKey,
  checkReservedShare,
  DEFAULT_KEY_BITS,
  MAX_USER_VESSELS,
  PERCENT_STEP,
  SETTING_FIELDS,
  type DeploymentSettings,
  type KeyBits,
} from './deployment-settings.ts';

/** One vessel as the XML-RPC API sends it (docs/formats.md#build-configuration, #xml-rpc-api). */
export interface VesselSpec {
  percentage: number;
  owner: string;
  users?: string[];
}

export interface BuildConfig {
  vessels: VesselSpec[];
  user_data?: Record<string, { public_key?: string }>;
}

export type ReservedSettings = Pick<DeploymentSettings, 'reservedShare' | 'reservedKey'>;

export interface ResolvedVessel {
  percentage: number;
  owner: string;
  /** De-duplicated, first-seen order. */
  users: string[];
}

export interface ResolvedConfig {
  /** The person's vessels only; the reserved vessel is implied by reservedShare/reservedKey. */
  vessels: ResolvedVessel[];
  /** Every user name used in `vessels` -> canonical Seattle public key string. */
  publicKeys: Record<string, string>;
  reservedShare: number;
  reservedKey: string;
}

export interface GeneratedKey {
  publicKey: string;
  privateKey: string;
}

/**
 * docs/formats.md#build-configuration: 3 to 40 characters from [0-9a-zA-Z_], the first a letter or
 * digit.
 */
export const USER_NAME_PATTERN = /^[0-9a-zA-Z][0-9a-zA-Z_]{2,39}$/;
export const USER_NAME_MIN = 3;
export const USER_NAME_MAX = 40;
/**
 * docs/formats.md#vesselinfo: every vessel, the reserved one included, gets between 10 and 100
 * percent.
 */
export const MIN_PERCENT = 10;
export const MAX_PERCENT = 100;
/**
 * Distinct users one build may name (owners and users of every vessel, and `user_data` entries).
 * The old web builder never needed more than a few dozen; the cap keeps a call's work, its
 * vesselinfo and its stored record small.
 */
export const MAX_USERS_PER_BUILD = 100;
/** Input quoted back in a message is cut to this many characters, so an answer stays small. */
const QUOTE_MAX = 60;

const TOP_LEVEL_FIELDS = ['vessels', 'user_data'];
const VESSEL_FIELDS = ['percentage', 'owner', 'users'];
const USER_DATA_FIELDS = ['public_key'];

export function isValidUserName(name: string): boolean {
  return USER_NAME_PATTERN.test(name);
}

/** JSON.stringify of text, cut to QUOTE_MAX characters (with "…") so a message stays short. */
function quoted(text: string): string {
  return JSON.stringify(text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}…` : text);
}

/** Appends in a loop: spreading tens of thousands of items into push() can overflow the stack. */
function append<T>(into: T[], more: readonly T[]): void {
  for (const item of more) into.push(item);
}

/** Why a user name breaks the rule, or undefined when it is fine. */
export function userNameProblem(name: string, path: string): Problem | undefined {
  if (isValidUserName(name)) return undefined;
  let why: string;
  if (name.length < USER_NAME_MIN || name.length > USER_NAME_MAX) {
    why = `it has ${name.length} characters; a user name has ${USER_NAME_MIN} to ${USER_NAME_MAX}`;
  } else if (name.startsWith('_')) {
    why = 'it starts with "_"; the first character must be a letter or a digit';
  } else {
    why = 'only letters, digits and "_" are allowed';
  }
  return problem('user.name.invalid', path, `The user name ${quoted(name)} is not valid: ${why}.`);
}

/** JSON type names as a person reads them. */
function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

/**
 * `record[key]` only when the record itself has it: user names such as `constructor` or
 * `toString` must never find Object.prototype's members.
 */
export function ownValue<T>(
  record: Readonly<Record<string, T>> | undefined,
  key: string,
): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets an own property, even `__proto__`, which plain assignment would take as the prototype. */
function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Object keys that are not ours: a warning, since a typo like `precentage` then shows up too. */
function unknownFields(object: Record<string, unknown>, known: string[], path: string): Problem[] {
  return Object.keys(object)
    .filter((key) => !known.includes(key))
    .map((key) =>
      problem(
        'config.field.unknown',
        path ? `${path}.${key}` : key,
        `The field ${quoted(key)} is not part of a build configuration and is ignored.`,
        'warning',
      ),
    );
}

/**
 * Names must be unique ignoring case (docs/formats.md#build-configuration: duplicate names are an
 * error), because each user's key becomes a file `NAME.publickey`, and `Bob` and `bob` would
 * collide on Windows and macOS. Checks each name's syntax too. `pathOf(i)` names the place of the
 * i-th name.
 */
export function checkUserNames(
  names: readonly string[],
  pathOf: (index: number) => string = (index) => `users[${index}]`,
): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  names.forEach((name, index) => {
    const bad = userNameProblem(name, pathOf(index));
    if (bad) problems.push(bad);
    const folded = name.toLowerCase();
    const earlier = seen.get(folded);
    if (earlier !== undefined) {
      const same = earlier === name;
      problems.push(
        problem(
          'user.name.duplicate',
          pathOf(index),
          same
            ? `The user name ${quoted(name)} is used twice; user names must be unique.`
            : `The user name ${quoted(name)} differs from ${quoted(earlier)} only in upper and lower case; user names must be unique ignoring case.`,
        ),
      );
    } else {
      seen.set(folded, name);
    }
  });
  return problems;
}

/** Settings errors (never the person's fault): codes `settings.*`, paths name the setting. */
export function validateSettings(settings: ReservedSettings): Problem[] {
  return [
    ...checkReservedShare(settings.reservedShare, SETTING_FIELDS.reservedShare),
    ...checkReservedKey(settings.reservedKey, SETTING_FIELDS.reservedKey),
  ];
}

function checkPercentage(
  value: unknown,
  path: string,
): { percentage?: number; problems: Problem[] } {
  if (value === undefined) {
    return {
      problems: [problem('vessel.percentage.missing', path, 'Every vessel needs a percentage.')],
    };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return {
      problems: [
        problem(
          'vessel.percentage.type',
          path,
          `The percentage must be a number such as 60, not ${jsonType(value)} (${JSON.stringify(value)}).`,
        ),
      ],
    };
  }
  if (!Number.isInteger(value)) {
    return {
      percentage: value,
      problems: [
        problem(
          'vessel.percentage.integer',
          path,
          `The percentage must be a whole number, not ${value}.`,
        ),
      ],
    };
  }
  if (value < MIN_PERCENT || value > MAX_PERCENT) {
    return {
      percentage: value,
      problems: [
        problem(
          'vessel.percentage.range',
          path,
          `The percentage must be between ${MIN_PERCENT} and ${MAX_PERCENT}, not ${value}.`,
        ),
      ],
    };
  }
  if (value % PERCENT_STEP !== 0) {
    return {
      percentage: value,
      problems: [
        problem(
          'vessel.percentage.step',
          path,
          `The percentage must be a multiple of ${PERCENT_STEP} (the node refuses anything else), not ${value}.`,
        ),
      ],
    };
  }
  return { percentage: value, problems: [] };
}

/** A user name where one is expected: a string that follows the name rule. */
function checkNameValue(
  value: unknown,
  path: string,
  what: string,
): { name?: string; problems: Problem[] } {
  if (typeof value !== 'string') {
    return {
      problems: [
        problem(
          'user.name.type',
          path,
          `The ${what} must be a user name (a string), not ${jsonType(value)}.`,
        ),
      ],
    };
  }
  const bad = userNameProblem(value, path);
  return bad ? { problems: [bad] } : { name: value, problems: [] };
}

/** A configuration validateConfig accepted: resolveValidConfig takes only these. */
export type ValidConfig = BuildConfig & { readonly [validBrand]: true };
declare const validBrand: unique symbol;

/**
 * Checks a build configuration in the XML-RPC shape (docs/formats.md#build-configuration) against
 * every rule of the vesselinfo and the build configuration and against the deployment settings.
 * Returns all problems at once (errors and warnings); `config` is a clean copy holding only the
 * known fields, present only when there are no errors.
 *
 * Decisions: unknown fields are warnings (ignored); names differing only in case are duplicates;
 * `user_data` entries no vessel names are a warning and are left out of the build.
 */
export function validateConfig(
  input: unknown,
  settings: ReservedSettings,
): { config?: ValidConfig; problems: Problem[] } {
  const checked = checkConfig(input, settings);
  const problems = validateSettings(settings);
  const settingsWrong = problems.length > 0;
  append(problems, checked.problems);
  return checked.config && !settingsWrong ? { config: checked.config, problems } : { problems };
}

/**
 * validateConfig for settings already checked where they came in (the server checks its
 * deployment settings once, at start): the configuration's own rules only.
 */
export function checkConfig(
  input: unknown,
  settings: ReservedSettings,
): { config?: ValidConfig; problems: Problem[] } {
  if (!isPlainObject(input)) {
    return {
      problems: [
        problem(
          'config.type',
          '',
          `A build configuration is an object {"vessels": [...], "user_data": {...}}, not ${jsonType(input)}.`,
        ),
      ],
    };
  }
  const problems = unknownFields(input, TOP_LEVEL_FIELDS, '');
  const vessels = checkVessels(input.vessels, settings);
  append(problems, vessels.problems);
  const userData = checkUserData(input.user_data, vessels.namesUsed);
  append(problems, userData.problems);
  append(problems, checkNamesAcross(vessels.namesUsed, input.user_data, userData));

  if (errorsOf(problems).length > 0) return { problems };
  const config = (
    userData.userData === undefined
      ? { vessels: vessels.vessels }
      : { vessels: vessels.vessels, user_data: userData.userData }
  ) as ValidConfig;
  return { config, problems };
}

/** Every place a name is used, for the duplicate check and for "unused user_data". */
interface NameUse {
  name: string;
  path: string;
}

/** The `vessels` list: its shape, each vessel, and the total against the reserved share. */
function checkVessels(
  rawVessels: unknown,
  settings: ReservedSettings,
): { vessels: VesselSpec[]; namesUsed: NameUse[]; problems: Problem[] } {
  const vessels: VesselSpec[] = [];
  const namesUsed: NameUse[] = [];
  const problems: Problem[] = [];
  const done = () => ({ vessels, namesUsed, problems });
  if (rawVessels === undefined) {
    problems.push(
      problem('config.vessels.missing', 'vessels', 'The configuration has no "vessels" list.'),
    );
    return done();
  }
  if (!Array.isArray(rawVessels)) {
    problems.push(
      problem(
        'config.vessels.type',
        'vessels',
        `"vessels" must be a list of vessels, not ${jsonType(rawVessels)}.`,
      ),
    );
    return done();
  }
  if (rawVessels.length === 0) {
    problems.push(
      problem('config.vessels.empty', 'vessels', 'The configuration needs at least one vessel.'),
    );
    return done();
  }
  if (rawVessels.length > MAX_USER_VESSELS) {
    problems.push(
      problem(
        'config.vessels.too-many',
        'vessels',
        `There are ${rawVessels.length} vessels; a build has at most ${MAX_USER_VESSELS} (plus the reserved one).`,
      ),
    );
  }
  let percentagesComplete = true;
  let total = 0;
  rawVessels.forEach((raw: unknown, index) => {
    const checked = checkVessel(raw, `vessels[${index}]`);
    append(problems, checked.problems);
    append(namesUsed, checked.namesUsed);
    if (checked.percentage === undefined) percentagesComplete = false;
    else total += checked.percentage;
    if (checked.vessel) vessels.push(checked.vessel);
  });
  const required = MAX_PERCENT - settings.reservedShare;
  if (percentagesComplete && total !== required) {
    problems.push(
      problem(
        'config.vessels.total',
        'vessels',
        `The vessels add up to ${total}%; they must add up to exactly ${required}% (the other ${settings.reservedShare}% is the reserved vessel).`,
      ),
    );
  }
  return done();
}

/**
 * One vessel: its fields, percentage, owner and users. `percentage` is set only when it is a
 * whole number (so the total can be checked); `vessel` when percentage and owner are usable.
 */
function checkVessel(
  raw: unknown,
  path: string,
): { vessel?: VesselSpec; percentage?: number; namesUsed: NameUse[]; problems: Problem[] } {
  const namesUsed: NameUse[] = [];
  if (!isPlainObject(raw)) {
    return {
      namesUsed,
      problems: [
        problem(
          'vessel.type',
          path,
          `A vessel is an object {"percentage": 60, "owner": "name", "users": [...]}, not ${jsonType(raw)}.`,
        ),
      ],
    };
  }
  const problems = unknownFields(raw, VESSEL_FIELDS, path);
  const pct = checkPercentage(raw.percentage, `${path}.percentage`);
  append(problems, pct.problems);

  let owner: string | undefined;
  if (raw.owner === undefined) {
    problems.push(problem('vessel.owner.missing', `${path}.owner`, 'Every vessel needs an owner.'));
  } else {
    const checked = checkNameValue(raw.owner, `${path}.owner`, 'owner');
    append(problems, checked.problems);
    owner = checked.name;
    if (owner !== undefined) namesUsed.push({ name: owner, path: `${path}.owner` });
  }

  const users: string[] = [];
  if (raw.users !== undefined) {
    if (!Array.isArray(raw.users)) {
      problems.push(
        problem(
          'vessel.users.type',
          `${path}.users`,
          `"users" must be a list of user names, not ${jsonType(raw.users)}.`,
        ),
      );
    } else {
      raw.users.forEach((user: unknown, userIndex) => {
        const userPath = `${path}.users[${userIndex}]`;
        const checked = checkNameValue(user, userPath, 'user');
        append(problems, checked.problems);
        if (checked.name !== undefined) {
          users.push(checked.name);
          namesUsed.push({ name: checked.name, path: userPath });
        }
      });
    }
  }
  const whole =
    pct.percentage !== undefined && Number.isInteger(pct.percentage) ? pct.percentage : undefined;
  if (pct.percentage === undefined || owner === undefined) {
    return { percentage: whole, namesUsed, problems };
  }
  const vessel: VesselSpec =
    raw.users === undefined
      ? { percentage: pct.percentage, owner }
      : { percentage: pct.percentage, owner, users };
  return { vessel, percentage: whole, namesUsed, problems };
}

/** `user_data`: its shape, its names, each entry's public key, and entries no vessel uses. */
function checkUserData(
  rawUserData: unknown,
  namesUsed: readonly NameUse[],
): { userData?: Record<string, { public_key?: string }>; problems: Problem[] } {
  if (rawUserData === undefined) return { problems: [] };
  if (!isPlainObject(rawUserData)) {
    return {
      problems: [
        problem(
          'config.user-data.type',
          'user_data',
          `"user_data" must be an object {"name": {"public_key": "e n"}}, not ${jsonType(rawUserData)}.`,
        ),
      ],
    };
  }
  const userData: Record<string, { public_key?: string }> = {};
  const names = Object.keys(rawUserData);
  const problems = checkUserNames(names, (i) => `user_data.${names[i]}`);
  const used = new Set(namesUsed.map((u) => u.name));
  for (const name of names) {
    const path = `user_data.${name}`;
    const entry = rawUserData[name];
    if (!isPlainObject(entry)) {
      problems.push(
        problem(
          'user-data.entry.type',
          path,
          `A user's data is an object {"public_key": "e n"}, not ${jsonType(entry)}.`,
        ),
      );
      continue;
    }
    append(problems, unknownFields(entry, USER_DATA_FIELDS, path));
    const key = entry.public_key;
    if (key === undefined) {
      setOwn(userData, name, {});
    } else if (typeof key !== 'string') {
      problems.push(
        problem(
          'user-data.public-key.type',
          `${path}.public_key`,
          `A public key is a string "e n", not ${jsonType(key)}.`,
        ),
      );
    } else {
      append(problems, parsePublicKey(key, `${path}.public_key`).problems);
      setOwn(userData, name, { public_key: key });
    }
    if (!used.has(name) && isValidUserName(name)) {
      problems.push(
        problem(
          'user-data.unused',
          path,
          `The user ${JSON.stringify(name)} is not named in any vessel and is left out of the build.`,
          'warning',
        ),
      );
    }
  }
  return { userData, problems };
}

/**
 * Names across vessels and `user_data`: at most MAX_USERS_PER_BUILD distinct users, and no two
 * spellings that differ only in case. Each distinct spelling is checked once, at the first place
 * it appears, so repeated references are fine.
 */
function checkNamesAcross(
  namesUsed: readonly NameUse[],
  rawUserData: unknown,
  checkedUserData: { userData?: Record<string, unknown>; problems: readonly Problem[] },
): Problem[] {
  const problems: Problem[] = [];
  const firstPlace = new Map<string, string>();
  for (const { name, path } of namesUsed) if (!firstPlace.has(name)) firstPlace.set(name, path);
  const userDataNames = checkedUserData.userData ? Object.keys(checkedUserData.userData) : [];
  const inUserData = new Set(userDataNames);
  const vesselOnly = [...firstPlace.keys()].filter((name) => !inUserData.has(name));
  // Counted once, ignoring case (so "Bob" and "bob" are one user here and a duplicate above).
  const distinct = new Set([...userDataNames, ...vesselOnly].map((name) => name.toLowerCase()));
  if (distinct.size > MAX_USERS_PER_BUILD) {
    problems.push(
      problem(
        'config.users.too-many',
        rawUserData !== undefined && userDataNames.length > MAX_USERS_PER_BUILD
          ? 'user_data'
          : 'vessels',
        `The build names ${distinct.size} different users; a build has at most ${MAX_USERS_PER_BUILD}.`,
      ),
    );
  }
  // user_data collisions among themselves were reported with user_data; here: vessel names against
  // all.
  const spellings = [...userDataNames, ...vesselOnly];
  const nameProblems = checkUserNames(spellings, (i) => {
    const name = spellings[i] ?? '';
    return firstPlace.get(name) ?? `user_data.${name}`;
  }).filter((p) => p.code === 'user.name.duplicate');
  const alreadyReported = new Set(
    checkedUserData.problems.filter((p) => p.code === 'user.name.duplicate').map((p) => p.path),
  );
  append(
    problems,
    nameProblems.filter((p) => !alreadyReported.has(p.path)),
  );
  return problems;
}

/** Names in first-seen order: owners and users of every vessel. */
export function userNamesOf(vessels: readonly VesselSpec[]): string[] {
  const names = new Set<string>();
  for (const vessel of vessels) {
    names.add(vessel.owner);
    for (const name of vessel.users ?? []) names.add(name);
  }
  return [...names];
}

/** Users named in a vessel who have no public key in `user_data` and will get a generated key. */
export function usersWithoutKeys(config: BuildConfig): string[] {
  return userNamesOf(config.vessels).filter(
    (name) => ownValue(config.user_data, name)?.public_key === undefined,
  );
}

/**
 * Validates again (so a caller cannot skip it), then generates key pairs for every user named in
 * a vessel who has no public key. Generated private keys come back separately and nowhere else.
 * Throws CibError with every error when the configuration is invalid.
 */
export async function resolveConfig(
  config: BuildConfig,
  settings: ReservedSettings,
  options: ResolveOptions = {},
): Promise<{ resolved: ResolvedConfig; generated: Record<string, GeneratedKey> }> {
  const checked = validateConfig(config, settings);
  if (!checked.config) throw new CibError(errorsOf(checked.problems));
  return resolveChecked(checked.config, settings, options);
}

export interface ResolveOptions {
  keyBits?: KeyBits;
  generate?: (bits: KeyBits) => Promise<KeyPair>;
}

/**
 * resolveConfig for a `config` that validateConfig (or checkConfig) returned, without validating
 * it a second time: a server validates each call once, at its edge. The type says it was checked.
 */
export async function resolveValidConfig(
  config: ValidConfig,
  settings: ReservedSettings,
  options: ResolveOptions = {},
): Promise<{ resolved: ResolvedConfig; generated: Record<string, GeneratedKey> }> {
  return resolveChecked(config, settings, options);
}

async function resolveChecked(
  valid: BuildConfig,
  settings: ReservedSettings,
  options: ResolveOptions,
): Promise<{ resolved: ResolvedConfig; generated: Record<string, GeneratedKey> }> {
  const bits = options.keyBits ?? DEFAULT_KEY_BITS;
  const generate = options.generate ?? ((b: KeyBits) => generateKeyPair(b));

  const missing = usersWithoutKeys(valid);
  const pairs = await Promise.all(missing.map(() => generate(bits)));
  const generated: Record<string, GeneratedKey> = {};
  missing.forEach((name, i) => {
    const pair = pairs[i] as KeyPair;
    setOwn(generated, name, { publicKey: pair.publicKey, privateKey: pair.privateKey });
  });

  return { resolved: resolvedOf(valid, settings, generated), generated };
}

/**
 * The resolved form of a configuration validateConfig accepted, once every user has a key:
 * supplied in `user_data` or in `generated`.
 */
export function resolvedOf(
  valid: BuildConfig,
  settings: ReservedSettings,
  generated: Record<string, GeneratedKey> = {},
): ResolvedConfig {
  const publicKeys: Record<string, string> = {};
  for (const name of userNamesOf(valid.vessels)) {
    const supplied = ownValue(valid.user_data, name)?.public_key;
    // Supplied keys (and the reserved key) passed validation: only their text is normalised.
    setOwn(
      publicKeys,
      name,
      supplied !== undefined
        ? canonicalKeyText(supplied)
        : canonicalPublicKey(
            ownValue(generated, name)?.publicKey ?? '',
            `user_data.${name}.public_key`,
          ),
    );
  }
  return {
    vessels: valid.vessels.map((v) => ({
      percentage: v.percentage,
      owner: v.owner,
      users: [...new Set(v.users ?? [])],
    })),
    publicKeys,
    reservedShare: settings.reservedShare,
    reservedKey: canonicalKeyText(settings.reservedKey),
  };
}

/**
 * The key as `"e n"` with no stray whitespace, so equal keys give equal vesselinfos and build ids.
 */
export function canonicalPublicKey(text: string, path: string): string {
  const parsed = parsePublicKey(text, path);
  if (!parsed.key) throw new CibError(errorsOf(parsed.problems));
  return canonicalKeyText(text);
}

/**
 * The same string formatPublicKey gives for a key text that parsePublicKey accepts, without
 * turning 600-digit numbers back into decimal (the costliest step of a build_installers call):
 * the valid text minus leading zeros. Only for text already known to be valid.
 */
function canonicalKeyText(text: string): string {
  return text
    .trim()
    .split(' ')
    .map((digits) => digits.replace(/^0+/, ''))
    .join(' ');
}
