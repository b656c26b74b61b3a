/**
 * Reads an XML-RPC methodCall (xmlrpc.com/spec.md) with saxes, a strict, conforming XML 1.0
 * parser (the one jsdom uses): well-formedness errors, undefined entities and stray text are
 * errors, only the five predefined entities and character references are decoded, and nothing is
 * ever fetched or expanded. The first error of any kind ends the parse (README, "Security and
 * limits"): nothing after it is read. On top of its events this builds the call's values, checking
 * the XML-RPC structure as it goes (methodCall > methodName, params > param > value; struct >
 * member > name, value; array > data > value); an element in the wrong place is refused as soon as
 * its name is read, and any attribute (XML-RPC has none) at the first.
 *
 * Values come back as strings, numbers, booleans, arrays, `Struct`s (members in document order;
 * a later duplicate wins) and `Unsupported` markers for nil, dateTime.iso8601 and base64, which
 * the shim refuses with a fault naming the argument. Elements nested deeper than `maxDepth` stop
 * the parse at once with NestingTooDeep, and more than `maxValues` values with TooManyValues, so
 * no deep or huge structure is ever built.
 */
import { SaxesParser, type SaxesStartTagPlain, type SaxesTagPlain } from 'saxes';

/** A struct's members; the shim turns it into a plain object after checking the names. */
export class Struct extends Map<string, unknown> {}

/** Thrown when elements nest deeper than the reader's limit. */
export class NestingTooDeep extends Error {
  constructor(readonly limit: number) {
    super(`elements are nested more than ${limit} deep.`);
    this.name = 'NestingTooDeep';
  }
}

/** Thrown when a call holds more `<value>` elements than the reader's limit. */
export class TooManyValues extends Error {
  constructor(readonly limit: number) {
    super(`the call holds more than ${limit} values.`);
    this.name = 'TooManyValues';
  }
}

/** Thrown when the XML declaration names an encoding other than UTF-8. */
export class UnsupportedEncoding extends Error {
  constructor(readonly encoding: string) {
    super(`the XML declaration names the encoding "${encoding}".`);
    this.name = 'UnsupportedEncoding';
  }
}

/** Names of UTF-8 (and its subset ASCII) an XML declaration may give. */
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/** A value of a type this API never uses. */
export class Unsupported {
  constructor(readonly type: 'nil' | 'dateTime' | 'base64') {}
}

export interface MethodCall {
  method: string;
  params: unknown[];
}

const SCALAR_TYPES = new Set([
  'i4',
  'int',
  'i8',
  'boolean',
  'string',
  'double',
  'dateTime.iso8601',
  'base64',
  'nil',
]);

/** The elements each element may contain; scalar types and names hold text only. */
const CHILDREN: Record<string, ReadonlySet<string>> = {
  methodCall: new Set(['methodName', 'params']),
  params: new Set(['param']),
  param: new Set(['value']),
  value: new Set([...SCALAR_TYPES, 'struct', 'array']),
  struct: new Set(['member']),
  member: new Set(['name', 'value']),
  array: new Set(['data']),
  data: new Set(['value']),
};

/** Elements whose text is their content; everywhere else only whitespace may stand between tags. */
const HOLDS_TEXT = new Set([...SCALAR_TYPES, 'value', 'name', 'methodName']);

const INTEGER = /^[+-]?[0-9]+$/;
const DOUBLE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const NOT_WHITESPACE = /[^ \t\r\n]/;

interface Frame {
  tag: string;
  text: string;
  /** value: the typed child's value; param/member: their value; member: its name. */
  value?: unknown;
  hasValue: boolean;
  name?: string;
  /** array, data, params: the items so far. */
  items?: unknown[];
  struct?: Struct;
}

function scalar(tag: string, text: string): unknown {
  switch (tag) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8': {
      const trimmed = text.trim();
      const value = Number(trimmed);
      if (!INTEGER.test(trimmed) || !Number.isSafeInteger(value))
        throw new Error(`<${tag}> holds "${clip(text)}", not an integer.`);
      return value;
    }
    case 'boolean': {
      const trimmed = text.trim();
      if (trimmed === '1') return true;
      if (trimmed === '0') return false;
      throw new Error(`<boolean> holds "${clip(text)}", not 0 or 1.`);
    }
    case 'double': {
      const trimmed = text.trim();
      if (DOUBLE.test(trimmed)) return Number(trimmed);
      const word = trimmed.toLowerCase().replace(/^\+/, '');
      if (word === 'nan') return NaN;
      if (word === 'inf' || word === 'infinity') return Infinity;
      if (word === '-inf' || word === '-infinity') return -Infinity;
      throw new Error(`<double> holds "${clip(text)}", not a number.`);
    }
    case 'nil':
      if (NOT_WHITESPACE.test(text)) throw new Error('<nil/> must be empty.');
      return new Unsupported('nil');
    case 'dateTime.iso8601':
      return new Unsupported('dateTime');
    default:
      return new Unsupported('base64');
  }
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** An element name as a fault quotes it: at most 60 characters (README, "Security and limits"). */
function tagName(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name;
}

/** Parses `text` (already decoded, DTD-free) as a methodCall; throws Error with a reason. */
export function readMethodCall(
  text: string,
  maxDepth: number,
  maxValues = Number.POSITIVE_INFINITY,
): MethodCall {
  const reader = methodCallReader(maxDepth, maxValues);
  reader.write(text);
  return reader.close();
}

/**
 * A methodCall read a piece at a time, as its text arrives: each piece is parsed as it is written,
 * so a large body is read between other work, and the first error (in whichever piece) ends the
 * parse there. The text is decoded and DTD-free (xmlrpc.ts checks it first).
 */
export interface MethodCallReader {
  /** Reads the next piece of the text; throws Error with a reason at the first error. */
  write(text: string): void;
  /** The text is complete: the call, or Error with a reason. */
  close(): MethodCall;
}

export function methodCallReader(
  maxDepth: number,
  maxValues = Number.POSITIVE_INFINITY,
): MethodCallReader {
  return new Reader(maxDepth, maxValues);
}

/**
 * The reader's phases, one per parser event: a start tag checked where it stands, a frame pushed,
 * text kept where text may stand, and each element's value handed to its parent as it closes.
 * There is no error handler: saxes throws at its first error, out of write() or close(), and so
 * does every check here (parser.fail), so nothing after the first error is read.
 */
class Reader implements MethodCallReader {
  private readonly parser = new SaxesParser({ xmlns: false });
  private readonly stack: Frame[] = [];
  private values = 0;
  private method: string | undefined;
  private params: unknown[] | undefined;
  private done = false;
  /** The element whose start tag is being read (checked already, so a known name). */
  private opening = '';

  constructor(
    private readonly maxDepth: number,
    private readonly maxValues: number,
  ) {
    const parser = this.parser;
    parser.on('xmldecl', (decl) => {
      if (decl.encoding !== undefined && !UTF8_NAMES.has(decl.encoding.toLowerCase()))
        throw new UnsupportedEncoding(decl.encoding);
    });
    parser.on('text', (text) => this.text(text));
    parser.on('cdata', (text) => this.text(text));
    parser.on('opentagstart', (tag) => this.startTag(tag));
    parser.on('attribute', () => {
      parser.fail(`<${this.opening}> has an attribute; XML-RPC elements have none.`);
    });
    parser.on('opentag', (tag) => this.open(tag));
    parser.on('closetag', () => this.closeElement());
  }

  write(text: string): void {
    this.parser.write(text);
  }

  close(): MethodCall {
    this.parser.close();
    if (!this.done || this.method === undefined)
      throw new Error('the document is not a complete methodCall.');
    return { method: this.method, params: this.params ?? [] };
  }

  private get top(): Frame | undefined {
    return this.stack[this.stack.length - 1];
  }

  private text(chunk: string): void {
    const top = this.top;
    if (top === undefined) return; // outside the root saxes itself refuses anything but whitespace
    if (HOLDS_TEXT.has(top.tag)) top.text += chunk;
    else if (NOT_WHITESPACE.test(chunk))
      this.parser.fail(`text is not allowed directly inside <${top.tag}>.`);
  }

  /** Checked when the name is read, before any attribute: a misplaced element costs no more. */
  private startTag(tag: SaxesStartTagPlain): void {
    const name = tag.name;
    const parent = this.top;
    if (parent === undefined) {
      if (name !== 'methodCall')
        this.parser.fail(`the root element is <${tagName(name)}>, not <methodCall>.`);
    } else {
      if (!CHILDREN[parent.tag]?.has(name))
        this.parser.fail(`<${parent.tag}> cannot contain <${tagName(name)}>.`);
      if (parent.tag === 'value' && parent.hasValue) this.parser.fail('a <value> holds one value.');
    }
    if (this.stack.length >= this.maxDepth) throw new NestingTooDeep(this.maxDepth);
    this.opening = name;
  }

  private open(tag: SaxesTagPlain): void {
    const name = tag.name;
    // Stops the parse early: the rest of an oversized call is never read or built.
    if (name === 'value' && ++this.values > this.maxValues) throw new TooManyValues(this.maxValues);
    const frame: Frame = { tag: name, text: '', hasValue: false };
    if (name === 'params' || name === 'data') frame.items = [];
    else if (name === 'struct') frame.struct = new Struct();
    this.stack.push(frame);
  }

  /** An element closes: the call's own parts, or a value handed to its parent. */
  private closeElement(): void {
    const frame = this.stack.pop() as Frame;
    const parent = this.top;
    if (parent === undefined) return this.closeCall();
    switch (frame.tag) {
      case 'methodName':
        if (this.method !== undefined || this.params !== undefined)
          this.parser.fail('<methodName> must come once, before <params>.');
        this.method = frame.text;
        return;
      case 'params':
        if (this.params !== undefined) this.parser.fail('<methodCall> has more than one <params>.');
        this.params = frame.items;
        return;
      default:
        return this.closeValuePart(frame, parent);
    }
  }

  private closeCall(): void {
    if (this.method === undefined) this.parser.fail('<methodCall> has no <methodName>.');
    this.done = true;
  }

  /** param, data, array, struct, name, member, value or a scalar closes inside `parent`. */
  private closeValuePart(frame: Frame, parent: Frame): void {
    const fail = (reason: string) => this.parser.fail(reason);
    switch (frame.tag) {
      case 'param':
        if (!frame.hasValue) fail('a <param> has no <value>.');
        parent.items!.push(frame.value);
        return;
      case 'data':
        if (parent.hasValue) fail('an <array> holds one <data>.');
        return deliver(parent, frame.items);
      case 'array':
        if (!frame.hasValue) fail('an <array> has no <data>.');
        return deliver(parent, frame.value);
      case 'struct':
        return deliver(parent, frame.struct);
      case 'name':
        if (parent.name !== undefined) fail('a <member> has more than one <name>.');
        parent.name = frame.text;
        return;
      case 'member':
        if (frame.name === undefined || !frame.hasValue)
          fail('a <member> needs a <name> and a <value>.');
        parent.struct!.set(frame.name as string, frame.value);
        return;
      case 'value':
        return this.closeValue(frame, parent);
      default:
        try {
          deliver(parent, scalar(frame.tag, frame.text));
        } catch (error) {
          fail((error as Error).message);
        }
    }
  }

  private closeValue(frame: Frame, parent: Frame): void {
    let value: unknown;
    if (frame.hasValue) {
      if (NOT_WHITESPACE.test(frame.text))
        this.parser.fail('a <value> holds either text or one typed element, not both.');
      value = frame.value;
    } else {
      value = frame.text; // an untyped value is a string, whitespace and all
    }
    if (parent.tag === 'data') {
      parent.items!.push(value);
    } else {
      if (parent.hasValue) this.parser.fail(`a <${parent.tag}> holds one <value>.`);
      deliver(parent, value);
    }
  }
}

function deliver(parent: Frame, value: unknown): void {
  parent.value = value;
  parent.hasValue = true;
}
