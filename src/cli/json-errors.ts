/**
 * Where a JSON input file's first syntax error is, for `readJsonFile` (cli-settings.ts), which
 * loads this module only when JSON.parse has refused the text.
 */
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';

// Keyed by jsonc-parser's error names (its codes are a const enum, which isolated modules cannot read).
const JSON_ERROR_WORDS: Record<string, string> = {
  InvalidSymbol: 'a value',
  InvalidNumberFormat: 'a number such as 12 or 0.5',
  PropertyNameExpected: 'a member name in double quotes',
  ValueExpected: 'a value',
  ColonExpected: '":"',
  CommaExpected: '","',
  CloseBraceExpected: '"," or "}"',
  CloseBracketExpected: '"," or "]"',
  EndOfFileExpected: 'the end of the file',
  InvalidCommentToken: 'no comment (JSON has none)',
  UnexpectedEndOfComment: 'no comment (JSON has none)',
  UnexpectedEndOfString: "a closing '\"'",
  UnexpectedEndOfNumber: 'a digit',
  InvalidUnicode: 'a \\u escape with four hex digits',
  InvalidEscapeCharacter: 'an escape such as \\n or \\"',
  InvalidCharacter: 'a character (control characters must be escaped)',
};

/**
 * Where the first JSON syntax error is, found by Microsoft's jsonc-parser in strict mode (no
 * comments, no trailing commas), or undefined when it finds none.
 */
export function findJsonError(text: string): { offset: number; expected: string } | undefined {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, {
    disallowComments: true,
    allowTrailingComma: false,
    allowEmptyContent: false,
  });
  const first = errors[0];
  if (!first) return undefined;
  return {
    offset: first.offset,
    expected:
      JSON_ERROR_WORDS[printParseErrorCode(first.error)] ?? printParseErrorCode(first.error),
  };
}
