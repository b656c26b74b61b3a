/**
 * The `vesselinfo` file the node-side installer reads on first run (docs/formats.md#vesselinfo):
 * render it from a resolved configuration, and parse it exactly as strictly as the node does.
 */
import type { ResolvedConfig } from './build-config.ts';
import { MAX_PERCENT, MIN_PERCENT } from './build-config.ts';
import { formatPublicKey, parsePublicKey } from './keys.ts';
import { CibError, problem, type Problem } from './problems.ts';
import { PERCENT_STEP } from './deployment-settings.ts';

/** Line labels, case-sensitive (docs/formats.md#vesselinfo). */
export const PERCENT_LABEL = 'Percent';
export const OWNER_LABEL = 'Owner';
export const USER_LABEL = 'User';
/**
 * docs/formats.md#vesselinfo: vessel k gets ports from FIRST_PORT + PORTS_PER_STEP * a, one block
 * per 10%.
 */
export const FIRST_PORT = 63100;
export const PORTS_PER_STEP = 10;
/**
 * The largest vesselinfo any reader here accepts (4 MiB): a real one is a few KiB, and thousands
 * of 4096-bit users still fit. Bounds what a hostile installer can make us hold.
 */
export const MAX_VESSELINFO_BYTES = 4 * 2 ** 20;

/** One vessel as written in a vesselinfo file: keys are Seattle public-key strings. */
export interface VesselinfoVessel {
  percent: number;
  owner: string;
  users: string[];
}

/** A vessel as the node will create it: `v1`, `v2`, … with its port range (inclusive). */
export interface NodeVessel extends VesselinfoVessel {
  name: string;
  ports: [first: number, last: number];
}

/** What `nodeVesselsOf` reads: the person's vessels and the deployment's reserved vessel. */
export interface VesselPlan {
  vessels: readonly { percentage: number; owner: string; users?: readonly string[] }[];
  reservedShare: number;
  reservedKey: string;
}

/**
 * One vessel the node will create from a plan: one of the person's (its owner and users named as
 * the plan names them) or the reserved vessel (owned by the reserved key, no users).
 */
export interface PlannedVessel extends NodeVessel {
  reserved: boolean;
}

/**
 * The vessels the node creates for a configuration, in order, with their names and ports: the
 * person's vessels, then the reserved vessel, last and only when its share is above 0
 * (docs/formats.md#vesselinfo). The vesselinfo, the page's vessel editor and its installers'
 * summary all take the rule from here.
 */
export function nodeVesselsOf(plan: VesselPlan): PlannedVessel[] {
  const own = plan.vessels.map((vessel) => ({
    percent: vessel.percentage,
    owner: vessel.owner,
    users: [...(vessel.users ?? [])],
    reserved: false,
  }));
  const reserved =
    plan.reservedShare > 0
      ? [{ percent: plan.reservedShare, owner: plan.reservedKey, users: [], reserved: true }]
      : [];
  return nodeVessels([...own, ...reserved]);
}

/**
 * docs/formats.md#vesselinfo: `Percent N`, `Owner <key>`, any `User <key>` lines, per vessel, in
 * the order `nodeVesselsOf` gives; users de-duplicated first-seen; lines joined with `\n` and no
 * trailing newline, as the old service wrote it.
 */
export function renderVesselinfo(resolved: ResolvedConfig): string {
  const keyOf = (name: string, path: string): string => {
    // Own keys only: a user named "constructor" must not find Object.prototype's.
    const key = Object.hasOwn(resolved.publicKeys, name) ? resolved.publicKeys[name] : undefined;
    if (key === undefined) {
      throw new CibError(
        problem(
          'vesselinfo.key.missing',
          path,
          `The user ${JSON.stringify(name)} has no public key.`,
        ),
      );
    }
    return key;
  };
  const lines: string[] = [];
  nodeVesselsOf(resolved).forEach((vessel, index) => {
    lines.push(`${PERCENT_LABEL} ${vessel.percent}`);
    if (vessel.reserved) {
      lines.push(`${OWNER_LABEL} ${vessel.owner}`);
      return;
    }
    lines.push(`${OWNER_LABEL} ${keyOf(vessel.owner, `vessels[${index}].owner`)}`);
    for (const user of new Set(vessel.users)) {
      lines.push(`${USER_LABEL} ${keyOf(user, `vessels[${index}].users`)}`);
    }
  });
  return lines.join('\n');
}

const LABELS = [PERCENT_LABEL, OWNER_LABEL, USER_LABEL];
const DECIMAL = /^[0-9]+$/;
// Printable ASCII only (docs/formats.md#vesselinfo): the node reads plain ASCII; refusing a tab or
// a CR is this builder being stricter than the node.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function at(lineNumber: number): string {
  return `line ${lineNumber}`;
}

/** Shortens long lines for messages. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** One vessel while its lines are read: where its `Percent` line is and whether it has an owner. */
interface VesselDraft extends VesselinfoVessel {
  percentLine: number;
  ownerSeen: boolean;
}

/** What one line says before its values are read: its label (if any is recognisable) and words. */
interface LineShape {
  /** The label the line means, even when miswritten; undefined when none is recognisable. */
  kind: string | undefined;
  words: string[];
  /** Whether the line is exactly `Label value…` with single spaces; its problem when not. */
  wellFormed: boolean;
  problem?: Problem;
}

/**
 * A line's label and layout. A malformed line still tells its kind when it can, so it counts for
 * the structure (a vessel starts, an owner is given) and one mistake is reported once, not again
 * as a missing owner or a wrong total.
 */
function lineShape(line: string, path: string): LineShape {
  const guess = line.trim().split(/\s+/)[0] ?? '';
  const kind = LABELS.find((l) => l.toLowerCase() === guess.toLowerCase());
  const words = line.split(' ');
  const bad = (code: string, message: string): LineShape => ({
    kind,
    words,
    wellFormed: false,
    problem: problem(code, path, message),
  });
  if (!PRINTABLE_ASCII.test(line)) {
    return bad(
      'vesselinfo.line.characters',
      'The line holds a character that is not printable ASCII (a tab, a carriage return or a non-ASCII letter).',
    );
  }
  if (kind === undefined) {
    return bad(
      'vesselinfo.line.label',
      `The line must start with "Percent", "Owner" or "User", not ${quote(guess)}.`,
    );
  }
  if (words[0] !== kind) {
    return bad(
      'vesselinfo.line.label',
      `The label ${quote(words[0] ?? '')} must be written exactly "${kind}" (labels are case-sensitive).`,
    );
  }
  if (words.length !== (kind === PERCENT_LABEL ? 2 : 3) || words.includes('')) {
    const shape = kind === PERCENT_LABEL ? '"Percent N"' : `"${kind} e n"`;
    return bad(
      'vesselinfo.line.format',
      `The line must be ${shape}, its parts separated by single spaces, with nothing before or after.`,
    );
  }
  return { kind, words, wellFormed: true };
}

/** A `Percent` line's value: NaN when it cannot be read (the line's problem is said elsewhere). */
function percentOf(shape: LineShape, path: string, problems: Problem[]): number {
  const value = shape.words[1] ?? '';
  if (!shape.wellFormed) return Number.NaN;
  if (!DECIMAL.test(value)) {
    problems.push(
      problem(
        'vesselinfo.percent.invalid',
        path,
        `The percentage must be a whole number, not ${quote(value)}.`,
      ),
    );
    return Number.NaN;
  }
  const percent = Number(value);
  if (percent < MIN_PERCENT || percent > MAX_PERCENT || percent % PERCENT_STEP !== 0) {
    problems.push(
      problem(
        'vesselinfo.percent.range',
        path,
        `The percentage must be a multiple of ${PERCENT_STEP} from ${MIN_PERCENT} to ${MAX_PERCENT}, not ${value}.`,
      ),
    );
  }
  return percent;
}

/** An `Owner` or `User` line: its key joins the vessel the last `Percent` line started. */
function addKeyLine(
  vessel: VesselDraft | undefined,
  shape: LineShape,
  path: string,
  problems: Problem[],
): void {
  const kind = shape.kind;
  if (!vessel) {
    const code =
      kind === OWNER_LABEL ? 'vesselinfo.owner.before-percent' : 'vesselinfo.user.before-percent';
    problems.push(
      problem(
        code,
        path,
        `An "${kind}" line must follow the "Percent" line that starts its vessel.`,
      ),
    );
    return;
  }
  let key: string | undefined;
  if (shape.wellFormed) {
    // The node takes any e < n; a key no RSA key can be is worth a warning, not a refusal.
    const parsed = parsePublicKey(`${shape.words[1]} ${shape.words[2]}`, path, {
      unusable: 'warning',
    });
    problems.push(...parsed.problems);
    if (parsed.key) key = formatPublicKey(parsed.key);
  }
  if (kind === USER_LABEL) {
    if (key !== undefined) vessel.users.push(key);
  } else if (vessel.ownerSeen) {
    problems.push(
      problem(
        'vesselinfo.owner.duplicate',
        path,
        'This vessel already has an owner; a vessel has exactly one.',
      ),
    );
  } else {
    vessel.ownerSeen = true;
    if (key !== undefined) vessel.owner = key;
  }
}

/** Reads the lines in order into vessels, each line's problems beside them. */
function readLines(lines: readonly string[], problems: Problem[]): VesselDraft[] {
  const drafts: VesselDraft[] = [];
  lines.forEach((line, index) => {
    const path = at(index + 1);
    if (line === '') {
      problems.push(
        problem(
          'vesselinfo.line.blank',
          path,
          'Empty lines are not allowed; the node refuses the file.',
        ),
      );
      return;
    }
    const shape = lineShape(line, path);
    if (shape.problem) problems.push(shape.problem);
    if (shape.kind === PERCENT_LABEL) {
      const percent = percentOf(shape, path, problems);
      drafts.push({ percent, owner: '', users: [], percentLine: index + 1, ownerSeen: false });
    } else if (shape.kind !== undefined) {
      addKeyLine(drafts.at(-1), shape, path, problems);
    }
  });
  return drafts;
}

/** What only the whole file shows: a vessel without an owner, no vessel at all, the total. */
function checkWhole(drafts: readonly VesselDraft[], problems: Problem[]): void {
  for (const draft of drafts) {
    if (draft.ownerSeen) continue;
    problems.push(
      problem(
        'vesselinfo.owner.missing',
        at(draft.percentLine),
        'This vessel has no "Owner" line; every vessel needs exactly one owner.',
      ),
    );
  }
  if (drafts.length === 0 && problems.length === 0) {
    problems.push(problem('vesselinfo.empty', at(1), 'The vesselinfo file has no "Percent" line.'));
  }
  const last = drafts.at(-1);
  if (!last || !drafts.every((v) => Number.isInteger(v.percent))) return;
  const total = drafts.reduce((sum, v) => sum + v.percent, 0);
  if (total !== MAX_PERCENT) {
    problems.push(
      problem(
        'vesselinfo.total',
        at(last.percentLine),
        `The percentages add up to ${total}; the node requires exactly ${MAX_PERCENT}.`,
      ),
    );
  }
}

/**
 * Parses a vesselinfo as strictly as the node-side installer (docs/formats.md#vesselinfo),
 * reporting every problem with the path `line N`. Labels are case-sensitive; fields are separated
 * by single spaces; no empty lines (one trailing newline at the very end is allowed); a vessel has
 * exactly one owner; percentages are multiples of 10 from 10 to 100 and add up to exactly 100.
 * `vessels` holds what could be read even when there are problems; trust it only when there are no
 * errors.
 */
export function parseVesselinfo(text: string): {
  vessels: VesselinfoVessel[];
  problems: Problem[];
} {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') {
    const empty = 'The vesselinfo file is empty; it needs at least one vessel.';
    return { vessels: [], problems: [problem('vesselinfo.empty', at(1), empty)] };
  }
  const problems: Problem[] = [];
  const drafts = readLines(body.split('\n'), problems);
  checkWhole(drafts, problems);
  const vessels = drafts.map(({ percent, owner, users }) => ({ percent, owner, users }));
  return { vessels, problems };
}

/**
 * Names and port ranges the node gives the vessels (docs/formats.md#vesselinfo): 60% first gets
 * 63100–63159.
 */
export function nodeVessels<V extends VesselinfoVessel>(
  vessels: readonly V[],
): (V & Pick<NodeVessel, 'name' | 'ports'>)[] {
  let steps = 0;
  return vessels.map((vessel, index) => {
    const a = steps;
    const b = a + vessel.percent / PERCENT_STEP;
    steps = b;
    return {
      ...vessel,
      name: `v${index + 1}`,
      ports: [FIRST_PORT + PORTS_PER_STEP * a, FIRST_PORT + PORTS_PER_STEP * b - 1],
    };
  });
}
