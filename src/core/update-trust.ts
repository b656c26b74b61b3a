/**
 * Who may update a donor's machine (docs/keys.md, "Who may update the donor's machine"). The
 * update key an installer's node trusts decides who can push code to that machine for as long as
 * it runs, so a build goes ahead only when the deployment trusts that key: the Seattle update key,
 * the operator's own keys (UPDATE_KEYS, --update-key, config.json `updateKeys`), and the demo
 * update key only under the one rule below, which no setting can change.
 */
import { fingerprint, formatPublicKey, parsePublicKey } from './keys.ts';
import { problem, type Problem } from './problems.ts';
import type { KnownUpdateKey } from './deployment-settings.ts';

/**
 * The demo bases' update key (demo/update-keys/demo.publickey; a test keeps the two equal). Its
 * private key is in the repository, so a signature by it proves nothing.
 */
export const DEMO_UPDATE_KEY =
  '65537 20701642485449625809677345401195992139363512787971606962102280806793686260934282987269518618899721940491473211400569798946183870307506397592238356034746281386706646985458824784929057745110592891399113557941570093019087002347853255938478924409272937181251013196828405766530507900543183144506567048017642162580224669343585702522063935494402187218939034073139261716859218162205251061768532625186031283510372962623800287692000897604083184180070350231119529854791190045875048949869133110971463489322237522360230047870741665698095177286418219941776288437795531366694155876675293291730715839472204425704164623632407318470559';

export const DEMO_UPDATE_KEY_LABEL =
  'the demo update key (its private key is public: for demonstrations only)';

/** How an operator makes a key trusted, said wherever a key is refused as untrusted. */
export const HOW_TO_TRUST =
  'If you know who holds it and want them to be able to update donors’ machines, trust it with UPDATE_KEYS or UPDATE_KEYS_FILE (server and cib), --update-key FILE (cib) or updateKeys in config.json (the page).';

function canonical(key: string): string | undefined {
  const { key: parsed } = parsePublicKey(key);
  return parsed ? formatPublicKey(parsed) : undefined;
}

const DEMO_CANONICAL = canonical(DEMO_UPDATE_KEY);

/** Whether `key` ("e n", any spacing of a valid key) is the demo update key. */
export function isDemoUpdateKey(key: string): boolean {
  return canonical(key) === DEMO_CANONICAL;
}

/**
 * The rule for the demo update key: a deployment trusts it only when every base it serves is
 * signed by it (`signers` holds, per base, the key its metainfo is validly signed by, or
 * undefined when the base has none that verifies or cannot be read, such as the GUI executable).
 * One base signed by anything else, and the demo key is trusted for no base of that deployment.
 */
export function deploymentTrustsDemoKey(signers: readonly (string | undefined)[]): boolean {
  return signers.length > 0 && signers.every((key) => key !== undefined && isDemoUpdateKey(key));
}

/** The demo key as a trusted key, for a deployment where `deploymentTrustsDemoKey` holds. */
export const DEMO_TRUSTED_KEY: KnownUpdateKey = {
  key: DEMO_CANONICAL ?? DEMO_UPDATE_KEY,
  label: DEMO_UPDATE_KEY_LABEL,
};

/**
 * The trusted keys with the demo key added when the deployment's bases earn it; a list that
 * already holds it is returned unchanged.
 */
export function withDemoKey(
  keys: readonly KnownUpdateKey[],
  demoTrusted: boolean,
): KnownUpdateKey[] {
  if (!demoTrusted || keys.some((k) => isDemoUpdateKey(k.key))) return [...keys];
  return [...keys, DEMO_TRUSTED_KEY];
}

/**
 * A setting that names the demo key is refused: it is trusted by the files a deployment serves,
 * never by configuration.
 */
export function demoKeySettingProblem(key: string, path: string): Problem | undefined {
  if (!isDemoUpdateKey(key)) return undefined;
  return problem(
    'settings.update-keys.demo',
    path,
    `This is the demo update key (${fingerprint(key)}), whose private key is public: no setting can trust it. A deployment trusts it only while every base it serves is signed by it (docs/keys.md).`,
  );
}

/**
 * The page's form of the rule: it cannot read every base, so the build (or the server) writes
 * into config.json `demoBases`, the SHA-256 of each base it found signed by the demo key, and the
 * page trusts the demo key only while its manifest lists nothing else. Replacing any base (which
 * changes its SHA-256 in the manifest, or the page refuses it) ends the trust.
 */
export function demoBasesHold(
  manifestSha256s: readonly string[],
  demoBases: readonly string[] | undefined,
): boolean {
  return (
    demoBases !== undefined &&
    manifestSha256s.length > 0 &&
    manifestSha256s.every((sha256) => demoBases.includes(sha256))
  );
}
