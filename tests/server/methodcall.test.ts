import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { CallParser, FaultCode, parseMethodCall, ShimFault } from '../../src/server/xmlrpc.ts';
import { ROOT } from './helpers.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function call(value: string, method = 'build_installers'): Uint8Array {
  return utf8(
    `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params><param>${value}</param></params></methodCall>`,
  );
}

async function faultOf(body: Uint8Array): Promise<ShimFault> {
  try {
    await parseMethodCall(body);
  } catch (error) {
    if (error instanceof ShimFault) return error;
    throw error;
  }
  throw new Error('expected a fault');
}

describe('the XML-RPC reader, against calls written by Python xmlrpc.client', () => {
  let cases: { name: string; xml: string; expected: { method: string; args: unknown[] } }[];
  beforeAll(async () => {
    const { stdout } = await promisify(execFile)('python3', [
      join(ROOT, 'tests/server/python/values.py'),
    ]);
    cases = JSON.parse(stdout);
  });

  it('reads every value exactly as Python itself reads the same text back', async () => {
    expect(cases.length).toBeGreaterThan(5);
    for (const { name, xml, expected } of cases) {
      const parsed = await parseMethodCall(utf8(xml));
      expect({ name, method: parsed.method, args: parsed.args }).toEqual({ name, ...expected });
    }
  });
});

describe('the XML-RPC reader', () => {
  it('decodes the predefined entities and character references, keeps CDATA, skips comments', async () => {
    const { args } = await parseMethodCall(
      call(
        '<value><string>&lt;&amp;&gt;&quot;&apos; &#233;&#x41;&#x1F600; <![CDATA[<x>&amp;]]> a<!-- c -->b</string></value>',
      ),
    );
    expect(args).toEqual(['<&>"\' \u00e9A\u{1F600} <x>&amp; ab']);
  });

  it('reads an untyped value as a string, whitespace and all, and i4/i8/int/double/boolean', async () => {
    const body = utf8(
      `<?xml version="1.0"?><methodCall><methodName> api_version </methodName><params>
      <param><value>  raw\ttext </value></param>
      <param><value></value></param>
      <param><value><i4> 42 </i4></value></param>
      <param><value><i8>-9007199254740991</i8></value></param>
      <param><value><double>-1.5e3</double></value></param>
      <param><value><boolean>1</boolean></value></param>
      <param><value><string/></value></param>
      <param><value><array><data></data></array></value></param>
      <param><value><struct></struct></value></param>
      </params></methodCall>`,
    );
    const { method, args } = await parseMethodCall(body);
    expect(method).toBe('api_version');
    expect(args).toEqual(['  raw\ttext ', '', 42, -9007199254740991, -1500, true, '', [], {}]);
  });

  it('takes a call without params, and a later duplicate struct member wins', async () => {
    expect(
      await parseMethodCall(utf8('<methodCall><methodName>api_version</methodName></methodCall>')),
    ).toEqual({ method: 'api_version', args: [] });
    const { args } = await parseMethodCall(
      call(
        '<value><struct><member><name>a</name><value>1</value></member><member><value>2</value><name>a</name></member></struct></value>',
      ),
    );
    expect(args).toEqual([{ a: '2' }]);
  });

  it('faults on malformed XML and on anything that is not an XML-RPC methodCall', async () => {
    const malformed = [
      '<methodCall><methodName>x</methodName><params></methodCall>',
      '<methodCall><methodName>x</methodName></methodCall><methodCall/>',
      '<methodCall><methodName>x&foo;</methodName></methodCall>',
      '<methodCall><methodName>x &amp y</methodName></methodCall>',
      '<methodResponse><params/></methodResponse>',
      '<methodCall><params/></methodCall>',
      '<methodCall><methodName>x</methodName><methodName>y</methodName></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value>1</value><value>2</value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value>a<int>1</int></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><int>1</int><int>2</int></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><struct>text</struct></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><struct><member><name>a</name></member></struct></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><array><value>1</value></array></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><int>4x</int></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><int>99999999999999999999</int></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><boolean>2</boolean></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><double>1.2.3</double></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><string><b>x</b></string></value></param></params></methodCall>',
      '<methodCall><methodName>x</methodName><params><param><value><float>1</float></value></param></params></methodCall>',
      '<METHODCALL><methodName>x</methodName></METHODCALL>',
      'text',
      '',
    ];
    for (const xml of malformed) {
      const fault = await faultOf(utf8(xml));
      expect({ xml, code: fault.faultCode }).toEqual({ xml, code: FaultCode.PARSE_ERROR });
      expect(fault.message).toContain('not a well-formed XML-RPC methodCall');
    }
  });

  it('refuses nil, dateTime and base64 values and a __proto__ member, naming the argument', async () => {
    const cases: [string, string][] = [
      ['<value><nil/></value>', 'argument 1: nil is not used by this API.'],
      [
        '<value><array><data><value><dateTime.iso8601>20260101T00:00:00</dateTime.iso8601></value></data></array></value>',
        'argument 1[0]: dateTime values are not used by this API.',
      ],
      [
        '<value><struct><member><name>k</name><value><base64>AAAA</base64></value></member></struct></value>',
        'argument 1.k: base64 values are not used by this API.',
      ],
      [
        '<value><struct><member><name>__proto__</name><value><struct></struct></value></member></struct></value>',
        'argument 1: a struct member name is not allowed ("__proto__").',
      ],
    ];
    for (const [value, message] of cases) {
      const fault = await faultOf(call(value));
      expect(fault.faultCode).toBe(FaultCode.INVALID_PARAMS);
      expect(fault.message).toBe(message);
    }
  });

  it('keeps a struct member named like an Object.prototype property as plain data', async () => {
    const { args } = await parseMethodCall(
      call(
        '<value><struct><member><name>constructor</name><value>c</value></member><member><name>toString</name><value><int>1</int></value></member></struct></value>',
      ),
    );
    expect(args).toEqual([{ constructor: 'c', toString: 1 }]);
    expect(Object.getPrototypeOf(args[0])).toBe(Object.prototype);
  });
});

describe('the XML-RPC reader, a piece at a time', () => {
  /** `body` written in the pieces cut at `cuts` (byte offsets), then closed. */
  function inPieces(body: Uint8Array, cuts: number[]) {
    const parser = new CallParser();
    const ends = [...cuts, body.length];
    ends.reduce((from, to) => {
      parser.write(body.subarray(from, to));
      return to;
    }, 0);
    return parser.close();
  }
  function faultInPieces(body: Uint8Array, cuts: number[]): ShimFault {
    try {
      inPieces(body, cuts);
    } catch (error) {
      if (error instanceof ShimFault) return error;
      throw error;
    }
    return expect.unreachable('expected a fault') as never;
  }
  const everyCut = (body: Uint8Array) => Array.from({ length: body.length - 1 }, (_, i) => i + 1);

  it('reads a call cut anywhere the same as whole, inside a multi-byte character too', () => {
    // é is 2 bytes, 中 3 and 😀 4 in UTF-8: some cuts fall inside each.
    const body = call('<value><string>é中😀 &amp; <![CDATA[x]]></string></value>');
    const whole = parseMethodCall(body);
    expect(whole.args).toEqual(['é中😀 & x']);
    for (const cut of everyCut(body)) expect(inPieces(body, [cut]), `cut at ${cut}`).toEqual(whole);
    // And a byte at a time.
    expect(inPieces(body, everyCut(body))).toEqual(whole);
  });

  it('refuses a DOCTYPE however it is cut, before the parser reads it', () => {
    const body = utf8(
      '<?xml version="1.0"?><!DOCTYPE methodCall [<!ENTITY a "b">]><methodCall><methodName>api_version</methodName></methodCall>',
    );
    const at = new TextDecoder().decode(body).indexOf('<!DOCTYPE');
    for (let cut = at; cut <= at + '<!DOCTYPE'.length; cut++) {
      const fault = faultInPieces(body, [cut]);
      expect(fault.faultCode, `cut at ${cut}`).toBe(FaultCode.INVALID_XMLRPC);
      expect(fault.message).toContain('DOCTYPE or ENTITY declaration');
    }
    // Spaced out a byte at a time: refused too, by the scan or by the parser at `<! `.
    const spaced = utf8(`<?xml version="1.0"?><!   ${' '.repeat(100)}doctype x><methodCall/>`);
    expect([FaultCode.INVALID_XMLRPC, FaultCode.PARSE_ERROR]).toContain(
      faultInPieces(spaced, everyCut(spaced)).faultCode,
    );
  });

  it('finds a forbidden character in a later piece at its place in the whole body', () => {
    const body = call('<value><string>line one\nsecond line é\u0001</string></value>');
    const whole = faultInPieces(body, []);
    expect(whole.message).toMatch(/^The request holds U\+0001 at line 2, column \d+/);
    for (const cut of everyCut(body))
      expect(faultInPieces(body, [cut]).message).toBe(whole.message);
  });

  it('refuses bytes that are not UTF-8, a character cut off at the end, and a declared encoding', () => {
    const body = call('<value><string>é</string></value>');
    const at = body.indexOf(0xc3);
    const broken = Uint8Array.from([...body.subarray(0, at + 1), 0x41, ...body.subarray(at + 2)]);
    expect(faultInPieces(broken, [at + 1]).faultCode).toBe(FaultCode.INVALID_CHARACTER);
    expect(faultInPieces(body.subarray(0, at + 1), []).faultCode).toBe(FaultCode.INVALID_CHARACTER);
    const latin = utf8(
      '<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>x</methodName></methodCall>',
    );
    expect(faultInPieces(latin, [20]).faultCode).toBe(FaultCode.UNSUPPORTED_ENCODING);
  });

  it('counts comments and references across pieces, a `<` ending one piece included', () => {
    const comments = call(`<value><string>${'<!--c-->'.repeat(65)}</string></value>`);
    const cuts = everyCut(comments).filter((i) => comments[i - 1] === 0x3c); // after each `<`
    expect(faultInPieces(comments, cuts).message).toContain('more than 64 comments');
    const references = call(`<value><string>${'&amp;'.repeat(1025)}</string></value>`);
    expect(faultInPieces(references, everyCut(references)).message).toContain(
      'more than 1024 entity or character references',
    );
  });
});
