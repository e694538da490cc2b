/**
 * Compares a program's output with the expected output. Pure functions, no I/O; every mode is
 * linear in the size of the outputs and walks them in place instead of splitting them into arrays.
 */

/**
 * How outputs are compared: byte for byte (`exact`), line by line ignoring trailing whitespace and
 * trailing empty lines (`lines`, the service's default), token by token (`tokens`), or token by
 * token with numbers compared within a tolerance (`float`, both tolerances default to 1e-6).
 */
export type CompareMode = 'exact' | 'lines' | 'tokens' | { mode: 'float'; absTol?: number; relTol?: number };

/** Where two outputs first differ: a 1-based line number and that line's text on each side. */
export interface OutputDiff {
  line: number;
  expected: string;
  actual: string;
}

/** The result of a comparison; a diff only when the outputs differ. */
export type Comparison = { equal: true } | { equal: false; diff: OutputDiff };

/** The most UTF-16 code units a side of a diff holds; a longer line is cut and ends with '…'. */
export const DIFF_SIDE_CHARS = 200;

const DEFAULT_TOLERANCE = 1e-6;
const EQUAL: Comparison = { equal: true };

/** Compares `actual` with `expected` in `mode`; see CompareMode. */
export function compareOutputs(expected: string, actual: string, mode: CompareMode): Comparison {
  if (typeof mode === 'object') {
    const absTol = mode.absTol ?? DEFAULT_TOLERANCE;
    const relTol = mode.relTol ?? DEFAULT_TOLERANCE;
    return compareTokens(expected, actual, (e, a) => e === a || numbersMatch(e, a, absTol, relTol));
  }
  switch (mode) {
    case 'exact':
      return compareExact(expected, actual);
    case 'lines':
      return compareLines(expected, actual);
    case 'tokens':
      return compareTokens(expected, actual, (e, a) => e === a);
  }
}

const LF = 0x0a;
const CR = 0x0d;

/** Space, \t, \r, \f, \v: whitespace that is trailing when it ends a line. */
function isLineSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === CR || c === 0x0c || c === 0x0b;
}

/** ASCII whitespace: a line's trailing whitespace or a newline. */
function isSpace(c: number): boolean {
  return c === LF || isLineSpace(c);
}

/** `s` cut to DIFF_SIDE_CHARS code units, ending with '…' when cut; never splits a surrogate pair. */
function clip(s: string): string {
  if (s.length <= DIFF_SIDE_CHARS) return s;
  let end = DIFF_SIDE_CHARS - 1;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** `text[start, end)` clipped, copying no more than the clip keeps. */
function clipRange(text: string, start: number, end: number): string {
  return clip(text.slice(start, Math.min(end, start + DIFF_SIDE_CHARS + 1)));
}

function differ(line: number, expected: string, actual: string): Comparison {
  return { equal: false, diff: { line, expected, actual } };
}

/** The end of the line starting at `start`: the next '\n' or the end of the text. */
function lineEnd(text: string, start: number): number {
  const nl = text.indexOf('\n', start);
  return nl === -1 ? text.length : nl;
}

function compareExact(expected: string, actual: string): Comparison {
  if (expected === actual) return EQUAL;
  const n = Math.min(expected.length, actual.length);
  let i = 0;
  while (i < n && expected.charCodeAt(i) === actual.charCodeAt(i)) i++;
  // Line number and start of the line holding offset i; the prefix is the same on both sides.
  let line = 1;
  let start = 0;
  for (let nl = expected.indexOf('\n'); nl !== -1 && nl < i; nl = expected.indexOf('\n', nl + 1)) {
    line++;
    start = nl + 1;
  }
  const expectedEnd = lineEnd(expected, start);
  const actualEnd = lineEnd(actual, start);
  // The lines can only read the same when one side ends at i where the other has a newline:
  // that side shows its line with the newline.
  const newlineSide = expectedEnd === i && actualEnd === i ? (i < expected.length ? 'expected' : 'actual') : undefined;
  const side = (text: string, end: number, name: 'expected' | 'actual'): string =>
    newlineSide === name ? clip(`${text.slice(start, Math.min(end, start + DIFF_SIDE_CHARS))}\n`) : clipRange(text, start, end);
  return differ(line, side(expected, expectedEnd, 'expected'), side(actual, actualEnd, 'actual'));
}

/** Walks the lines of a text with each line's trailing whitespace and the trailing empty lines left out. */
class LineCursor {
  private readonly contentEnd: number;
  private pos = 0;
  /** The current line: text[start, end). */
  start = 0;
  end = 0;

  constructor(readonly text: string) {
    let end = text.length;
    while (end > 0 && isSpace(text.charCodeAt(end - 1))) end--;
    this.contentEnd = end;
    if (end === 0) this.pos = 1; // no lines at all
  }

  /** Moves to the next line; false when there is none. */
  next(): boolean {
    if (this.pos > this.contentEnd) return false;
    const start = this.pos;
    let end = Math.min(lineEnd(this.text, start), this.contentEnd);
    this.pos = end + 1;
    while (end > start && isLineSpace(this.text.charCodeAt(end - 1))) end--;
    this.start = start;
    this.end = end;
    return true;
  }

  current(): string {
    return this.text.slice(this.start, this.end);
  }
}

function compareLines(expected: string, actual: string): Comparison {
  const e = new LineCursor(expected);
  const a = new LineCursor(actual);
  for (let line = 1; ; line++) {
    const hasE = e.next();
    const hasA = a.next();
    if (!hasE && !hasA) return EQUAL;
    if (hasE && hasA && e.end - e.start === a.end - a.start && e.current() === a.current()) continue;
    return differ(line, hasE ? clipRange(expected, e.start, e.end) : '', hasA ? clipRange(actual, a.start, a.end) : '');
  }
}

/** Walks the whitespace-separated tokens of a text, keeping track of the line each is on. */
class TokenCursor {
  private pos = 0;
  private line = 1;
  private lineStartPos = 0;
  /** The current token: text[start, end), on line `tokenLine` (1-based) starting at `tokenLineStart`; 0 before the first. */
  start = 0;
  end = 0;
  tokenLine = 0;
  tokenLineStart = 0;

  constructor(readonly text: string) {}

  /** Moves to the next token; false when there is none. */
  next(): boolean {
    const t = this.text;
    let i = this.pos;
    for (; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (!isSpace(c)) break;
      if (c === LF) {
        this.line++;
        this.lineStartPos = i + 1;
      }
    }
    if (i >= t.length) {
      this.pos = i;
      return false;
    }
    this.start = i;
    while (i < t.length && !isSpace(t.charCodeAt(i))) i++;
    this.end = i;
    this.pos = i;
    this.tokenLine = this.line;
    this.tokenLineStart = this.lineStartPos;
    return true;
  }

  token(): string {
    return this.text.slice(this.start, this.end);
  }

  /** The current token's whole line without its trailing '\r', clipped. */
  lineText(): string {
    const start = this.tokenLineStart;
    let end = lineEnd(this.text, start);
    while (end > start && this.text.charCodeAt(end - 1) === CR) end--;
    return clipRange(this.text, start, end);
  }
}

function compareTokens(expected: string, actual: string, match: (e: string, a: string) => boolean): Comparison {
  const e = new TokenCursor(expected);
  const a = new TokenCursor(actual);
  for (;;) {
    const hasE = e.next();
    const hasA = a.next();
    if (!hasE && !hasA) return EQUAL;
    if (hasE && hasA && match(e.token(), a.token())) continue;
    // The actual output ran out: point past its last line with a token.
    const line = hasA ? a.tokenLine : a.tokenLine + 1;
    return differ(line, hasE ? e.lineText() : '', hasA ? a.lineText() : '');
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL = /^([+-]?)(nan|inf|infinity)$/i;

/** The value of a numeric token, or undefined when the token is not a number. */
function parseNumber(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const m = SPECIAL.exec(token);
  if (!m) return undefined;
  if (m[2]!.toLowerCase() === 'nan') return Number.NaN;
  return m[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

/** True when both tokens are numbers within the tolerance: NaN only matches NaN, an infinity only the same infinity. */
function numbersMatch(expectedToken: string, actualToken: string, absTol: number, relTol: number): boolean {
  const e = parseNumber(expectedToken);
  if (e === undefined) return false;
  const a = parseNumber(actualToken);
  if (a === undefined) return false;
  if (Number.isNaN(e) || Number.isNaN(a)) return Number.isNaN(e) && Number.isNaN(a);
  if (!Number.isFinite(e) || !Number.isFinite(a)) return e === a;
  const d = Math.abs(e - a);
  return d <= absTol || d <= relTol * Math.abs(e);
}
