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

/**
 * docs/formats.md#vesselinfo: `Percent N`, `Owner <key>`, any `User <key>` lines, per vessel, in
 * the given order; users de-duplicated first-seen; the reserved vessel last (omitted when its share
 * is 0); lines joined with `\n` and no trailing newline, as the old service wrote it.
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
  resolved.vessels.forEach((vessel, index) => {
    lines.push(`${PERCENT_LABEL} ${vessel.percentage}`);
    lines.push(`${OWNER_LABEL} ${keyOf(vessel.owner, `vessels[${index}].owner`)}`);
    for (const user of new Set(vessel.users)) {
      lines.push(`${USER_LABEL} ${keyOf(user, `vessels[${index}].users`)}`);
    }
  });
  if (resolved.reservedShare > 0) {
    lines.push(`${PERCENT_LABEL} ${resolved.reservedShare}`);
    lines.push(`${OWNER_LABEL} ${resolved.reservedKey}`);
  }
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
  const problems: Problem[] = [];
  const vessels: VesselinfoVessel[] = [];
  // Each vessel's Percent line, to point at it when its owner is missing, and whether it had one.
  const percentLines: number[] = [];
  const ownerSeen: boolean[] = [];
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') {
    return {
      vessels,
      problems: [
        problem(
          'vesselinfo.empty',
          at(1),
          'The vesselinfo file is empty; it needs at least one vessel.',
        ),
      ],
    };
  }
  const lines = body.split('\n');
  let total = 0;
  let lastPercentLine = 0;

  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    const path = at(lineNumber);
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
    // A malformed line still counts for the structure (a vessel starts, an owner is given), so one
    // mistake is reported once and not again as a missing owner or a wrong total.
    const guess = line.trim().split(/\s+/)[0] ?? '';
    const kind = LABELS.find((l) => l.toLowerCase() === guess.toLowerCase());
    const words = line.split(' ');
    let wellFormed = false;
    if (!PRINTABLE_ASCII.test(line)) {
      problems.push(
        problem(
          'vesselinfo.line.characters',
          path,
          'The line holds a character that is not printable ASCII (a tab, a carriage return or a non-ASCII letter).',
        ),
      );
    } else if (kind === undefined) {
      problems.push(
        problem(
          'vesselinfo.line.label',
          path,
          `The line must start with "Percent", "Owner" or "User", not ${quote(guess)}.`,
        ),
      );
    } else if (words[0] !== kind) {
      problems.push(
        problem(
          'vesselinfo.line.label',
          path,
          `The label ${quote(words[0] ?? '')} must be written exactly "${kind}" (labels are case-sensitive).`,
        ),
      );
    } else if (words.length !== (kind === PERCENT_LABEL ? 2 : 3) || words.includes('')) {
      const shape = kind === PERCENT_LABEL ? '"Percent N"' : `"${kind} e n"`;
      problems.push(
        problem(
          'vesselinfo.line.format',
          path,
          `The line must be ${shape}, its parts separated by single spaces, with nothing before or after.`,
        ),
      );
    } else {
      wellFormed = true;
    }
    if (kind === undefined) return;

    if (kind === PERCENT_LABEL) {
      lastPercentLine = lineNumber;
      let percent = Number.NaN;
      const value = words[1] ?? '';
      if (wellFormed && !DECIMAL.test(value)) {
        problems.push(
          problem(
            'vesselinfo.percent.invalid',
            path,
            `The percentage must be a whole number, not ${quote(value)}.`,
          ),
        );
      } else if (wellFormed) {
        percent = Number(value);
        total += percent;
        if (percent < MIN_PERCENT || percent > MAX_PERCENT || percent % PERCENT_STEP !== 0) {
          problems.push(
            problem(
              'vesselinfo.percent.range',
              path,
              `The percentage must be a multiple of ${PERCENT_STEP} from ${MIN_PERCENT} to ${MAX_PERCENT}, not ${value}.`,
            ),
          );
        }
      }
      vessels.push({ percent, owner: '', users: [] });
      percentLines.push(lineNumber);
      ownerSeen.push(false);
      return;
    }

    const vesselIndex = vessels.length - 1;
    const current = vessels[vesselIndex];
    if (!current) {
      problems.push(
        problem(
          kind === OWNER_LABEL
            ? 'vesselinfo.owner.before-percent'
            : 'vesselinfo.user.before-percent',
          path,
          `An "${kind}" line must follow the "Percent" line that starts its vessel.`,
        ),
      );
      return;
    }
    let key: string | undefined;
    if (wellFormed) {
      // The node takes any e < n; a key no RSA key can be is worth a warning, not a refusal.
      const parsed = parsePublicKey(`${words[1]} ${words[2]}`, path, { unusable: 'warning' });
      problems.push(...parsed.problems);
      if (parsed.key) key = formatPublicKey(parsed.key);
    }
    if (kind === OWNER_LABEL) {
      if (ownerSeen[vesselIndex]) {
        problems.push(
          problem(
            'vesselinfo.owner.duplicate',
            path,
            'This vessel already has an owner; a vessel has exactly one.',
          ),
        );
      } else {
        ownerSeen[vesselIndex] = true;
        if (key !== undefined) current.owner = key;
      }
    } else if (key !== undefined) {
      current.users.push(key);
    }
  });

  vessels.forEach((_vessel, index) => {
    if (!ownerSeen[index]) {
      problems.push(
        problem(
          'vesselinfo.owner.missing',
          at(percentLines[index] ?? 1),
          'This vessel has no "Owner" line; every vessel needs exactly one owner.',
        ),
      );
    }
  });
  if (vessels.length === 0 && problems.length === 0) {
    problems.push(problem('vesselinfo.empty', at(1), 'The vesselinfo file has no "Percent" line.'));
  }
  const allNumbers = vessels.every((v) => Number.isInteger(v.percent));
  if (vessels.length > 0 && allNumbers && total !== MAX_PERCENT) {
    problems.push(
      problem(
        'vesselinfo.total',
        at(lastPercentLine),
        `The percentages add up to ${total}; the node requires exactly ${MAX_PERCENT}.`,
      ),
    );
  }
  return { vessels, problems };
}

/**
 * Names and port ranges the node gives the vessels (docs/formats.md#vesselinfo): 60% first gets
 * 63100–63159.
 */
export function nodeVessels(vessels: readonly VesselinfoVessel[]): NodeVessel[] {
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
