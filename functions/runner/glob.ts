/**
 * The glob patterns of a request's `outputs` (API.md "Files out"), matched against relative paths
 * segment by segment: `*` (any run) and `?` (one character) stay within a segment, `[abc]`,
 * `[a-z]` and `[!abc]` (or `[^abc]`) match one character of a class, a segment that is exactly
 * `**` matches zero or more segments (one or more at the end of a pattern, so `out/**` names what
 * is inside `out`). A name starting with `.` matches only a segment whose first character is a
 * literal `.`: `*`, `?`, a class and `**` never match a dotfile or go into a dot-directory. Every
 * other character is itself. No pattern makes the matcher throw or backtrack without bound.
 */

type Token = { kind: 'char'; c: string } | { kind: 'any' } | { kind: 'star' } | { kind: 'class'; negated: boolean; ranges: [number, number][] };

type Segment = { globstar: true } | { globstar: false; tokens: Token[]; dot: boolean };

/** A compiled pattern. */
export interface Glob {
  /** Whether the relative path `p` (segments joined by `/`) matches the whole pattern. */
  matches(p: string): boolean;
  /** Whether something beneath the directory `dir` (a relative path) could match: false lets a walk skip it. */
  mayContain(dir: string): boolean;
}

/** Parses the class starting at `chars[start]` (a `[`): its token and the index of its `]`, or null when it is not closed. */
function parseClass(chars: string[], start: number): { token: Token; end: number } | null {
  let i = start + 1;
  const negated = chars[i] === '!' || chars[i] === '^';
  if (negated) i++;
  const ranges: [number, number][] = [];
  const first = i;
  for (; i < chars.length; i++) {
    const c = chars[i]!;
    // A `]` right after the opening (and negation) is a member, not the end.
    if (c === ']' && i > first) return { token: { kind: 'class', negated, ranges }, end: i };
    const lo = c.codePointAt(0)!;
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      ranges.push([lo, chars[i + 2]!.codePointAt(0)!]);
      i += 2;
    } else {
      ranges.push([lo, lo]);
    }
  }
  return null;
}

function compileSegment(segment: string): Segment {
  if (segment === '**') return { globstar: true };
  const chars = Array.from(segment);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
    } else if (c === '[') {
      const cls = parseClass(chars, i);
      if (cls) {
        tokens.push(cls.token);
        i = cls.end;
      } else {
        tokens.push({ kind: 'char', c });
      }
    } else {
      tokens.push({ kind: 'char', c });
    }
  }
  const head = tokens[0];
  return { globstar: false, tokens, dot: head?.kind === 'char' && head.c === '.' };
}

function one(token: Exclude<Token, { kind: 'star' }>, c: string): boolean {
  if (token.kind === 'any') return true;
  if (token.kind === 'char') return token.c === c;
  const code = c.codePointAt(0)!;
  return token.ranges.some(([lo, hi]) => code >= lo && code <= hi) !== token.negated;
}

/** One name against one segment: the usual single-star backtracking, linear in practice, never exponential. */
function matchSegment(segment: Segment, name: string): boolean {
  if (segment.globstar) return !name.startsWith('.');
  if (name.startsWith('.') && !segment.dot) return false;
  const { tokens } = segment;
  const chars = Array.from(name);
  let t = 0;
  let c = 0;
  let starT = -1;
  let starC = 0;
  while (c < chars.length) {
    const token = tokens[t];
    if (token && token.kind === 'star') {
      starT = t++;
      starC = c;
    } else if (token && one(token, chars[c]!)) {
      t++;
      c++;
    } else if (starT >= 0) {
      t = starT + 1;
      c = ++starC;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

/** `step` over (pattern segment i, path segment j ≤ width), each pair computed once. */
function memoized(width: number, step: (go: (i: number, j: number) => boolean, i: number, j: number) => boolean): (i: number, j: number) => boolean {
  const memo = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (width + 1) + j;
    let result = memo.get(key);
    if (result === undefined) {
      result = step(go, i, j);
      memo.set(key, result);
    }
    return result;
  };
  return go;
}

/** Compiles a pattern (one the contract accepted: relative, no empty, `.` or `..` segment). */
export function compileGlob(pattern: string): Glob {
  const segments = pattern.split('/').map(compileSegment);
  const n = segments.length;

  // Whether path segments names[j..] match pattern segments [i..].
  const matchFrom = (names: string[]) =>
    memoized(names.length, (go, i, j) => {
      const seg = segments[i];
      if (!seg) return j === names.length;
      if (seg.globstar && i === n - 1) return j < names.length && names.slice(j).every((s) => matchSegment(seg, s));
      if (seg.globstar) return go(i + 1, j) || (j < names.length && matchSegment(seg, names[j]!) && go(i, j + 1));
      return j < names.length && matchSegment(seg, names[j]!) && go(i + 1, j + 1);
    });

  // Whether directory segments dirs[j..] can be consumed leaving pattern segments to match what is inside.
  const prefixFrom = (dirs: string[]) =>
    memoized(dirs.length, (go, i, j) => {
      const seg = segments[i];
      if (j === dirs.length) return i < n;
      if (!seg) return false;
      if (seg.globstar) return (matchSegment(seg, dirs[j]!) && go(i, j + 1)) || go(i + 1, j);
      return matchSegment(seg, dirs[j]!) && go(i + 1, j + 1);
    });

  return {
    matches: (p) => matchFrom(p.split('/'))(0, 0),
    mayContain: (dir) => prefixFrom(dir === '' ? [] : dir.split('/'))(0, 0),
  };
}

/** Several patterns as one: a path matches when any pattern does. */
export function compileGlobs(patterns: readonly string[]): Glob {
  const globs = patterns.map(compileGlob);
  return {
    matches: (p) => globs.some((g) => g.matches(p)),
    mayContain: (dir) => globs.some((g) => g.mayContain(dir)),
  };
}
