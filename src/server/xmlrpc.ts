/**
 * The XML-RPC shim (docs/formats.md#xml-rpc-api): `api_version`, `build_installers`, `get_urls`,
 * with the old service's argument shapes, return shapes and faults. Parsing is saxes, a strict XML
 * parser, under our XML-RPC reader (methodcall.ts), fenced in by our own checks first: UTF-8 only,
 * no DOCTYPE or ENTITY declarations (so no external entities and no entity expansion); the reader
 * bounds element nesting as it reads. The body size is bounded by the HTTP layer before we ever see
 * it. Responses are written by `responseXml` below: the @foxglove/xmlrpc serializer (xmlbuilder2)
 * cost a third of a call's CPU time under load, and its sax-based reader a third again.
 */
import {
  NestingTooDeep,
  readMethodCall,
  Struct,
  TooManyValues,
  Unsupported,
} from './methodcall.ts';
import {
  MAX_USERS_PER_BUILD,
  checkConfig,
  resolveValidConfig,
  usersWithoutKeys,
  type ResolvedConfig,
} from '../core/build-config.ts';
import { buildId } from '../core/buildid.ts';
import { STANDARD_PLATFORMS, type StandardPlatform } from '../core/platforms.ts';
import { sha1Hex } from '../host/hash.ts';
import { CibError, describeProblems, errorsOf, type Problem } from '../core/problems.ts';
import type { KeyPair } from '../core/keygen.ts';
import type { DeploymentSettings, KeyBits } from '../core/deployment-settings.ts';
import { KeygenBusy, KeygenCancelled, KeygenPool } from './keygen-pool.ts';
import { DEFAULT_KEYGEN_CONCURRENCY, DEFAULT_KEYGEN_QUEUE } from './server-settings.ts';
import { isBuildId, RECORD_FORMAT, type BuildStore } from './store.ts';

export const API_VERSION = '2.0';
/**
 * The platforms `build_installers` and `get_urls` return URLs for (docs/formats.md#xml-rpc-api).
 */
export const URL_PLATFORMS: readonly StandardPlatform[] = STANDARD_PLATFORMS.map((p) => p.platform);
/**
 * methodCall > params > param > value > array > data > value > struct > member > value … : 32 is
 * ample.
 */
export const MAX_XML_DEPTH = 32;
/**
 * Values one call may hold. The largest valid build_installers call (8 vessels naming at most
 * MAX_USERS_PER_BUILD users, and their user_data) holds about a thousand; past this the parse
 * stops, so a megabyte of tiny values costs no more than a few kilobytes.
 */
export const MAX_CALL_VALUES = 4096;
/** Key generation is costly: a single call may ask for at most this many generated keys. */
export const MAX_GENERATED_KEYS = 32;
/** A fault lists at most this many problems, then says how many more there are. */
export const MAX_FAULT_PROBLEMS = 20;
/** Each listed problem is cut to this many characters (a path may quote a long struct member). */
export const MAX_FAULT_LINE = 400;

/** Fault codes of the XML-RPC fault-code interoperability convention (xmlrpc-epi). */
export const FaultCode = {
  PARSE_ERROR: -32700,
  UNSUPPORTED_ENCODING: -32701,
  INVALID_CHARACTER: -32702,
  INVALID_XMLRPC: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  APPLICATION_ERROR: -32500,
  /** xmlrpc-epi's "system error": here, too many keys already waiting to be generated. */
  SERVER_BUSY: -32400,
} as const;

/** A fault with the sentence the caller sees. */
export class ShimFault extends Error {
  constructor(
    readonly faultCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ShimFault';
  }
}

/** Why queued work was dropped: the client closed its connection before the answer. */
export class ClientGone extends Error {
  constructor() {
    super('The client closed the connection before its call was answered.');
    this.name = 'ClientGone';
  }
}

/** One line of a fault, cut to MAX_FAULT_LINE characters. */
function clipLine(line: string): string {
  return line.length > MAX_FAULT_LINE ? `${line.slice(0, MAX_FAULT_LINE)}…` : line;
}

/**
 * A problem's path with every run of input longer than MAX_QUOTED (a struct member or user name
 * spelled into `user_data.<name>`) cut to that many characters.
 */
function clipPath(path: string): string {
  return path.replace(/[^.[\]]{61,}/g, (run) => `${run.slice(0, MAX_QUOTED)}…`);
}

/** The problems as fault text: the first MAX_FAULT_PROBLEMS lines, then "… and N more". */
export function faultText(problems: readonly Problem[]): string {
  const shown = problems
    .slice(0, MAX_FAULT_PROBLEMS)
    .map((p) => clipLine(describeProblems([{ ...p, path: clipPath(p.path) }])));
  const more = problems.length - shown.length;
  if (more > 0) shown.push(`… and ${more} more problem${more === 1 ? '' : 's'}.`);
  return shown.join('\n');
}

export type Urls = Record<StandardPlatform, string>;

export function installerUrls(publicUrl: string, id: string): Urls {
  const urls = {} as Urls;
  for (const platform of URL_PLATFORMS)
    urls[platform] = `${publicUrl}/${id}/installers/${platform}/`;
  return urls;
}

const DECLARED_ENCODING = /^<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']/;
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);
const DTD_OR_ENTITY = /<!\s*(DOCTYPE|ENTITY)/i;

/** UTF-8 text of a request body, or a fault saying why not. */
export function decodeBody(body: Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new ShimFault(
      FaultCode.INVALID_CHARACTER,
      'The request body is not valid UTF-8; send the XML-RPC call encoded as UTF-8.',
    );
  }
  const declared = DECLARED_ENCODING.exec(text)?.[1];
  if (declared !== undefined && !UTF8_NAMES.has(declared.toLowerCase())) {
    throw new ShimFault(
      FaultCode.UNSUPPORTED_ENCODING,
      `The request declares the encoding "${declared}"; only UTF-8 is accepted.`,
    );
  }
  return text;
}

/** Entity and character references one call may hold: calls of this API need none. */
export const MAX_XML_REFERENCES = 1024;
/** Comments, processing instructions and CDATA sections one call may hold (the declaration too). */
export const MAX_XML_EXTRAS = 64;
/** Quoted input in a fault is cut to this many characters (README, "Security and limits"). */
export const MAX_QUOTED = 60;
/** No fault is longer than this, whatever it quotes: MAX_FAULT_PROBLEMS lines and a summary. */
export const MAX_FAULT_CHARS = (MAX_FAULT_LINE + 2) * (MAX_FAULT_PROBLEMS + 1);

// eslint-disable-next-line no-control-regex -- exactly the characters XML 1.0 forbids
const FORBIDDEN_CHARACTER = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

/** `text` as a fault quotes it: JSON, cut to MAX_QUOTED characters with "…". */
export function quote(text: string): string {
  return JSON.stringify(text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}…` : text);
}

/** How many times `needle` occurs in `text`, counting no further than `limit` + 1. */
function countUpTo(text: string, needle: string, limit: number): number {
  let count = 0;
  for (
    let at = text.indexOf(needle);
    at !== -1 && count <= limit;
    at = text.indexOf(needle, at + 1)
  )
    count += 1;
  return count;
}

/** "line L, column C" of the character at `index` (1-based, as editors count). */
function position(text: string, index: number): string {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < index; at = text.indexOf('\n', at + 1)) {
    line += 1;
    lineStart = at + 1;
  }
  return `line ${line}, column ${index - lineStart + 1}`;
}

/**
 * Rejects, before any parsing, what the parser must never see or what would cost it more than
 * ordinary text: DTDs and entity declarations (external entities, "billion laughs"), characters
 * XML 1.0 forbids (control characters, U+FFFE, U+FFFF: refused at the first, which also keeps a
 * megabyte of them from costing a parser error each), and more references, comments, processing
 * instructions or CDATA sections than any call of this API needs. Each scan is one pass that stops
 * early. Nesting is bounded by the reader itself (readMethodCall's maxDepth).
 */
export function checkXmlSafety(text: string): void {
  if (DTD_OR_ENTITY.test(text)) {
    throw new ShimFault(
      FaultCode.INVALID_XMLRPC,
      'The request contains a DOCTYPE or ENTITY declaration; XML-RPC calls must not have them.',
    );
  }
  const forbidden = FORBIDDEN_CHARACTER.exec(text);
  if (forbidden) {
    const code = forbidden[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new ShimFault(
      FaultCode.INVALID_CHARACTER,
      `The request holds U+${code} at ${position(text, forbidden.index)}, a character XML 1.0 forbids; XML-RPC strings cannot carry control characters.`,
    );
  }
  if (countUpTo(text, '&', MAX_XML_REFERENCES) > MAX_XML_REFERENCES) {
    throw new ShimFault(
      FaultCode.INVALID_XMLRPC,
      `The request holds more than ${MAX_XML_REFERENCES} entity or character references; calls of this API need none.`,
    );
  }
  const extras = countUpTo(text, '<!', MAX_XML_EXTRAS) + countUpTo(text, '<?', MAX_XML_EXTRAS);
  if (extras > MAX_XML_EXTRAS) {
    throw new ShimFault(
      FaultCode.INVALID_XMLRPC,
      `The request holds more than ${MAX_XML_EXTRAS} comments, processing instructions or CDATA sections; calls of this API need none.`,
    );
  }
}

/** Text as XML character data: markup escaped, characters XML 1.0 forbids replaced by U+FFFD. */
function xmlText(text: string): string {
  // eslint-disable-next-line no-control-regex -- exactly the characters XML 1.0 forbids
  const forbidden = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
  return text
    .replace(forbidden, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** One XML-RPC <value> (spec: xmlrpc.com/spec.md). Never nil: this API does not use it. */
export function valueXml(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `<value><string>${xmlText(value)}</string></value>`;
    case 'boolean':
      return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
    case 'number':
      return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX
        ? `<value><int>${value}</int></value>`
        : `<value><double>${Number.isFinite(value) ? value : 0}</double></value>`;
    case 'object':
      if (Array.isArray(value))
        return `<value><array><data>${value.map(valueXml).join('')}</data></array></value>`;
      if (value !== null) {
        const members = Object.entries(value)
          .filter(([, item]) => item !== undefined)
          .map(([name, item]) => `<member><name>${xmlText(name)}</name>${valueXml(item)}</member>`);
        return `<value><struct>${members.join('')}</struct></value>`;
      }
  }
  throw new Error(`valueXml: cannot send ${String(value)} over XML-RPC.`);
}

export function responseXml(result: unknown): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><params><param>${valueXml(result)}</param></params></methodResponse>\n`;
}

/** A fault, never longer than MAX_FAULT_CHARS whatever its message quotes. */
export function faultXml(code: number, message: string): string {
  const text = message.length > MAX_FAULT_CHARS ? `${message.slice(0, MAX_FAULT_CHARS)}…` : message;
  const fault = valueXml({ faultCode: code, faultString: text });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<methodResponse><fault>${fault}</fault></methodResponse>\n`;
}

/** Parses a methodCall body; every failure is a ShimFault with a sentence. */
export async function parseMethodCall(
  body: Uint8Array,
): Promise<{ method: string; args: unknown[] }> {
  const text = decodeBody(body);
  checkXmlSafety(text);
  let call;
  try {
    call = readMethodCall(text, MAX_XML_DEPTH, MAX_CALL_VALUES);
  } catch (error) {
    if (error instanceof TooManyValues) {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `The call holds more than ${error.limit} values; a build has at most ${MAX_USERS_PER_BUILD} users, so no call of this API needs that many.`,
      );
    }
    if (error instanceof NestingTooDeep) {
      throw new ShimFault(
        FaultCode.INVALID_XMLRPC,
        `The request nests elements more than ${error.limit} deep; this API needs far fewer.`,
      );
    }
    const reason = clipLine(error instanceof Error ? error.message.split('\n')[0]! : String(error));
    throw new ShimFault(
      FaultCode.PARSE_ERROR,
      `The request is not a well-formed XML-RPC methodCall: ${reason}`,
    );
  }
  const args = call.params.map((value, i) => plainValue(value, `argument ${i + 1}`));
  return { method: call.method.trim(), args };
}

/**
 * The parsed value as plain JSON-like data. Faults for values this API never uses (nil,
 * dateTime, base64) and for struct members that would not survive as plain object keys.
 */
function plainValue(value: unknown, path: string): unknown {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return value;
  if (value instanceof Unsupported) {
    throw new ShimFault(
      FaultCode.INVALID_PARAMS,
      value.type === 'nil'
        ? `${path}: nil is not used by this API.`
        : `${path}: ${value.type} values are not used by this API.`,
    );
  }
  if (Array.isArray(value)) return value.map((item, i) => plainValue(item, `${path}[${i}]`));
  if (value instanceof Struct) {
    const copy: Record<string, unknown> = {};
    for (const [key, item] of value) {
      // Assigned to a plain object, "__proto__" would set the prototype: refuse it.
      if (key === '__proto__') {
        throw new ShimFault(
          FaultCode.INVALID_PARAMS,
          `${path}: a struct member name is not allowed ("__proto__").`,
        );
      }
      copy[key] = plainValue(
        item,
        `${path}.${key.length > MAX_QUOTED ? `${key.slice(0, MAX_QUOTED)}…` : key}`,
      );
    }
    return copy;
  }
  throw new ShimFault(FaultCode.INVALID_PARAMS, `${path}: unsupported value.`);
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'a struct';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an int' : 'a double';
  return `a ${typeof value}`;
}

function expectArgs(method: string, args: unknown[], names: string[], optional = 0): void {
  const min = names.length - optional;
  if (args.length >= min && args.length <= names.length) return;
  const takes =
    names.length === 0
      ? 'takes no arguments'
      : optional
        ? `takes ${min} or ${names.length} arguments (${names.join(', ')})`
        : `takes ${names.length} argument${names.length > 1 ? 's' : ''} (${names.join(', ')})`;
  throw new ShimFault(FaultCode.INVALID_PARAMS, `${method} ${takes}, not ${args.length}.`);
}

export interface ShimOptions {
  deployment: DeploymentSettings;
  store: BuildStore;
  /** PUBLIC_URL (BASE_PATH included, no trailing slash), read per call: tests bind port 0. */
  publicUrl: () => string;
  /** Internal failures are logged here (never request or response bodies). */
  logError?: (message: string) => void;
  /** Keys generated at once (threads) and keys that may wait (KEYGEN_CONCURRENCY, KEYGEN_QUEUE). */
  keygenConcurrency?: number;
  keygenQueue?: number;
  /** A key generator to use instead of one made from the two settings above. */
  keygen?: KeygenPool;
}

export interface BuildResult {
  build_id: string;
  installers: Urls;
  users: Record<string, { public_key: string; private_key?: string }>;
}

export class XmlRpcShim {
  readonly keygen: KeygenPool;
  constructor(private readonly options: ShimOptions) {
    this.keygen =
      options.keygen ??
      new KeygenPool({
        threads: options.keygenConcurrency ?? DEFAULT_KEYGEN_CONCURRENCY,
        queueLimit: options.keygenQueue ?? DEFAULT_KEYGEN_QUEUE,
      });
  }

  /**
   * Always answers with a methodResponse: the result, or a fault. `signal` aborts when the
   * client has gone away; work still queued for it is then dropped. `admit` is asked before the
   * method runs and may refuse it by throwing a ShimFault.
   */
  async handle(
    body: Uint8Array,
    signal?: AbortSignal,
    admit?: (method: string) => void,
  ): Promise<string> {
    try {
      const { method, args } = await parseMethodCall(body);
      // The caller's limits (a per-client rate limit), which fault with a ShimFault.
      admit?.(method);
      return responseXml(await this.call(method, args, signal));
    } catch (error) {
      if (error instanceof ShimFault) return faultXml(error.faultCode, error.message);
      if (error instanceof ClientGone) return faultXml(FaultCode.APPLICATION_ERROR, error.message);
      this.options.logError?.(`xmlrpc: internal error: ${(error as Error)?.stack ?? error}`);
      return faultXml(
        FaultCode.INTERNAL_ERROR,
        'The builder failed internally; please try again later.',
      );
    }
  }

  async call(method: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    switch (method) {
      case 'api_version':
        expectArgs(method, args, []);
        return API_VERSION;
      case 'build_installers':
        expectArgs(method, args, ['vessels', 'user_data'], 1);
        return this.buildInstallers(args[0], args[1], signal);
      case 'get_urls':
        expectArgs(method, args, ['build_id']);
        return this.getUrls(args[0]);
      default:
        throw new ShimFault(
          FaultCode.METHOD_NOT_FOUND,
          `There is no method ${quote(method)}; this service offers api_version, build_installers and get_urls.`,
        );
    }
  }

  async buildInstallers(
    vessels: unknown,
    userData?: unknown,
    signal?: AbortSignal,
  ): Promise<BuildResult> {
    if (!Array.isArray(vessels)) {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `build_installers: vessels (argument 1) must be an array of structs, not ${kindOf(vessels)}.`,
      );
    }
    if (userData !== undefined && (typeof userData !== 'object' || Array.isArray(userData))) {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `build_installers: user_data (argument 2) must be a struct, not ${kindOf(userData)}.`,
      );
    }
    const { deployment, store } = this.options;
    const input = userData === undefined ? { vessels } : { vessels, user_data: userData };
    // The deployment settings were checked once, when the server started.
    const checked = checkConfig(input, deployment);
    if (!checked.config) {
      throw new ShimFault(FaultCode.INVALID_PARAMS, faultText(errorsOf(checked.problems)));
    }
    const config = checked.config;
    const missing = usersWithoutKeys(config).length;
    if (missing > MAX_GENERATED_KEYS) {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `build_installers would generate ${missing} key pairs; at most ${MAX_GENERATED_KEYS} per call. Supply public keys in user_data.`,
      );
    }
    const pairs = await this.generateKeys(missing, deployment.defaultKeyBits, signal);
    // Checked just above (the type says so): resolving need not check everything again. It asks
    // for exactly `missing` keys, which were made above.
    const { resolved, generated } = await resolveValidConfig(config, deployment, {
      keyBits: deployment.defaultKeyBits,
      generate: async () => pairs.pop() as KeyPair,
    });
    // Nobody is left to receive the generated private keys: store nothing.
    if (signal?.aborted) throw new ClientGone();
    const id = buildId(resolved, sha1Hex);
    try {
      await store.put(id, { format: RECORD_FORMAT, build_id: id, resolved });
    } catch (error) {
      if (error instanceof CibError && error.code === 'store.record.too-large')
        throw new ShimFault(FaultCode.INVALID_PARAMS, `build_installers: ${error.message}`);
      throw error;
    }

    const users: BuildResult['users'] = {};
    for (const [name, publicKey] of Object.entries(resolved.publicKeys)) {
      const privateKey = generated[name]?.privateKey;
      users[name] = privateKey
        ? { public_key: publicKey, private_key: privateKey }
        : { public_key: publicKey };
    }
    return { build_id: id, installers: installerUrls(this.options.publicUrl(), id), users };
  }

  /** `count` new key pairs from the pool, or the fault that says why not. */
  private async generateKeys(
    count: number,
    bits: KeyBits,
    signal?: AbortSignal,
  ): Promise<KeyPair[]> {
    if (count === 0) return [];
    try {
      return await this.keygen.generate(count, bits, signal);
    } catch (error) {
      if (error instanceof KeygenCancelled) throw new ClientGone();
      if (error instanceof KeygenBusy) {
        throw new ShimFault(
          FaultCode.SERVER_BUSY,
          `build_installers: the builder is busy generating ${error.keys} keys for ${error.calls} other calls; try again in a minute, or supply public keys in user_data.`,
        );
      }
      throw error;
    }
  }

  async getUrls(id: unknown): Promise<Urls> {
    if (typeof id !== 'string') {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `get_urls: build_id (argument 1) must be a string, not ${kindOf(id)}.`,
      );
    }
    if (!isBuildId(id)) {
      throw new ShimFault(
        FaultCode.INVALID_PARAMS,
        `get_urls: ${quote(id)} is not a build id; a build id is 40 characters from a-z and 0-9.`,
      );
    }
    if (!(await this.lookup(id))) {
      throw new ShimFault(FaultCode.APPLICATION_ERROR, `get_urls: there is no build ${id}.`);
    }
    return installerUrls(this.options.publicUrl(), id);
  }

  private async lookup(id: string): Promise<ResolvedConfig | undefined> {
    try {
      return (await this.options.store.get(id))?.resolved;
    } catch (error) {
      if (error instanceof CibError && error.code === 'store.record.corrupt')
        throw new ShimFault(FaultCode.APPLICATION_ERROR, `get_urls: ${error.message}`);
      throw error;
    }
  }
}
