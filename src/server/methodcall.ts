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

/** A methodCall read a piece at a time, as its text arrives. */
export interface MethodCallReader {
  /** Reads the next piece of the text; throws Error with a reason at the first error. */
  write(text: string): void;
  /** The text is complete: the call, or Error with a reason. */
  close(): MethodCall;
}

/**
 * A reader taking the decoded, DTD-free text in pieces: each piece is parsed as it is written, so
 * a large body is read a piece at a time between other work, and the first error (in whichever
 * piece) ends the parse there.
 */
export function methodCallReader(
  maxDepth: number,
  maxValues = Number.POSITIVE_INFINITY,
): MethodCallReader {
  const parser = new SaxesParser({ xmlns: false });
  let values = 0;
  const stack: Frame[] = [];
  let method: string | undefined;
  let params: unknown[] | undefined;
  let done = false;
  /** The element whose start tag is being read (checked already, so a known name). */
  let opening = '';

  const addText = (chunk: string) => {
    const top = stack[stack.length - 1];
    if (top === undefined) return; // outside the root saxes itself refuses anything but whitespace
    if (HOLDS_TEXT.has(top.tag)) top.text += chunk;
    else if (NOT_WHITESPACE.test(chunk))
      parser.fail(`text is not allowed directly inside <${top.tag}>.`);
  };

  // No error handler: saxes throws at its first error, out of write() or close(), and so does
  // every check below (parser.fail), so nothing after the first error is read.
  parser.on('xmldecl', (decl) => {
    if (decl.encoding !== undefined && !UTF8_NAMES.has(decl.encoding.toLowerCase()))
      throw new UnsupportedEncoding(decl.encoding);
  });
  parser.on('text', addText);
  parser.on('cdata', addText);
  // Checked when the name is read, before any attribute: a misplaced element costs nothing more.
  parser.on('opentagstart', (tag: SaxesStartTagPlain) => {
    const name = tag.name;
    const parent = stack[stack.length - 1];
    if (parent === undefined) {
      if (name !== 'methodCall')
        parser.fail(`the root element is <${tagName(name)}>, not <methodCall>.`);
    } else {
      if (!CHILDREN[parent.tag]?.has(name))
        parser.fail(`<${parent.tag}> cannot contain <${tagName(name)}>.`);
      if (parent.tag === 'value' && parent.hasValue) parser.fail('a <value> holds one value.');
    }
    if (stack.length >= maxDepth) throw new NestingTooDeep(maxDepth);
    opening = name;
  });
  parser.on('attribute', () => {
    parser.fail(`<${opening}> has an attribute; XML-RPC elements have none.`);
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const name = tag.name;
    // Stops the parse early: the rest of an oversized call is never read or built.
    if (name === 'value' && ++values > maxValues) throw new TooManyValues(maxValues);
    const frame: Frame = { tag: name, text: '', hasValue: false };
    if (name === 'params' || name === 'data') frame.items = [];
    else if (name === 'struct') frame.struct = new Struct();
    stack.push(frame);
  });
  parser.on('closetag', () => {
    const frame = stack.pop() as Frame;
    const parent = stack[stack.length - 1];
    switch (frame.tag) {
      case 'methodCall':
        if (method === undefined) parser.fail('<methodCall> has no <methodName>.');
        done = true;
        return;
      case 'methodName':
        if (method !== undefined || params !== undefined)
          parser.fail('<methodName> must come once, before <params>.');
        method = frame.text;
        return;
      case 'params':
        if (params !== undefined) parser.fail('<methodCall> has more than one <params>.');
        params = frame.items;
        return;
      case 'param':
        if (!frame.hasValue) parser.fail('a <param> has no <value>.');
        parent!.items!.push(frame.value);
        return;
      case 'data':
        if (parent!.hasValue) parser.fail('an <array> holds one <data>.');
        parent!.value = frame.items;
        parent!.hasValue = true;
        return;
      case 'array':
        if (!frame.hasValue) parser.fail('an <array> has no <data>.');
        deliver(parent!, frame.value);
        return;
      case 'struct':
        deliver(parent!, frame.struct);
        return;
      case 'name':
        if (parent!.name !== undefined) parser.fail('a <member> has more than one <name>.');
        parent!.name = frame.text;
        return;
      case 'member':
        if (frame.name === undefined || !frame.hasValue)
          parser.fail('a <member> needs a <name> and a <value>.');
        parent!.struct!.set(frame.name as string, frame.value);
        return;
      case 'value': {
        let value: unknown;
        if (frame.hasValue) {
          if (NOT_WHITESPACE.test(frame.text))
            parser.fail('a <value> holds either text or one typed element, not both.');
          value = frame.value;
        } else {
          value = frame.text; // an untyped value is a string, whitespace and all
        }
        if (parent!.tag === 'data') {
          parent!.items!.push(value);
        } else {
          if (parent!.hasValue) parser.fail(`a <${parent!.tag}> holds one <value>.`);
          parent!.value = value;
          parent!.hasValue = true;
        }
        return;
      }
      default:
        try {
          deliver(parent!, scalar(frame.tag, frame.text));
        } catch (error) {
          parser.fail((error as Error).message);
        }
    }
  });

  function deliver(parent: Frame, value: unknown): void {
    parent.value = value;
    parent.hasValue = true;
  }

  return {
    write(text: string) {
      parser.write(text);
    },
    close() {
      parser.close();
      if (!done || method === undefined)
        throw new Error('the document is not a complete methodCall.');
      return { method, params: params ?? [] };
    },
  };
}
