/**
 * What the runner needs to know of a Java entry file without compiling it: its package and its
 * top-level types (which one is public, which have a `static void main`). A scanner, not a parser:
 * comments, strings, text blocks and character literals are blanked, then declarations are read
 * at brace depth 0. The source is request data; a file it cannot make sense of yields no types
 * (javac says what is wrong with it).
 */

export interface TopLevelType {
  name: string;
  public: boolean;
  /** Declares a `static … void main(` among its direct members. */
  main: boolean;
}

export interface JavaSource {
  /** `a.b` of `package a.b;`, or '' for the unnamed package. */
  package: string;
  types: TopLevelType[];
}

/** `src` with comments, string literals, text blocks and char literals replaced by spaces (newlines kept). */
export function blankLiterals(src: string): string {
  const out: string[] = [];
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    let end = -1;
    if (c === '/' && next === '/') {
      end = src.indexOf('\n', i);
      if (end < 0) end = src.length;
    } else if (c === '/' && next === '*') {
      end = src.indexOf('*/', i + 2);
      end = end < 0 ? src.length : end + 2;
    } else if (c === '"' && src.startsWith('"""', i)) {
      end = literalEnd(src, i + 3, '"""');
    } else if (c === '"' || c === "'") {
      end = literalEnd(src, i + 1, c, true);
    }
    if (end < 0) {
      out.push(c);
      i++;
    } else {
      out.push(blank(src.slice(i, end)));
      i = end;
    }
  }
  return out.join('');
}

/** Index just past the literal closed by `close` (escapes honoured), from `from`; a line literal also ends at a newline. */
function literalEnd(src: string, from: number, close: string, line = false): number {
  for (let j = from; j < src.length; j++) {
    if (src[j] === '\\') {
      j++;
      continue;
    }
    if (line && src[j] === '\n') return j;
    if (src.startsWith(close, j)) return j + close.length;
  }
  return src.length;
}

/** A Java identifier (keywords aside). */
const IDENTIFIER = String.raw`[\p{L}\p{Nl}$_][\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}$_]*`;
const TOKEN = new RegExp(String.raw`${IDENTIFIER}|\S`, 'gu');
const KINDS = new Set(['class', 'interface', 'enum', 'record']);

/** The package and the top-level types of a Java compilation unit. */
export function readJavaSource(src: string): JavaSource {
  const tokens = blankLiterals(src).match(TOKEN) ?? [];
  let pkg = '';
  const types: TopLevelType[] = [];
  let depth = 0;
  let parens = 0;
  /** Modifiers and annotations seen since the last declaration or statement at depth 0. */
  let modifiers: string[] = [];
  /** The top-level type whose body is open (depth ≥ 1), and the current member's tokens at depth 1. */
  let current: TopLevelType | null = null;
  let member: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '(') parens++;
    else if (t === ')') parens = Math.max(0, parens - 1);
    if (t === '{') {
      depth++;
      if (depth === 1) member = [];
      else if (depth === 2 && current) member = [];
      continue;
    }
    if (t === '}') {
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        current = null;
        modifiers = [];
      }
      if (depth === 1) member = [];
      continue;
    }
    if (depth === 0 && parens === 0) {
      if (t === ';') {
        modifiers = [];
        continue;
      }
      if (t === 'package' && types.length === 0) {
        const name: string[] = [];
        for (i++; i < tokens.length && tokens[i] !== ';'; i++) name.push(tokens[i]!);
        pkg = name.join('');
        modifiers = [];
        continue;
      }
      const name = tokens[i + 1];
      const isDecl =
        KINDS.has(t) && name !== undefined && /^[\p{L}\p{Nl}$_]/u.test(name) && tokens[i - 1] !== '.' &&
        // `record` is a contextual keyword: a declaration is followed by its header.
        (t !== 'record' || tokens[i + 2] === '(' || tokens[i + 2] === '<');
      if (isDecl) {
        current = { name, public: modifiers.includes('public'), main: false };
        types.push(current);
        modifiers = [];
        i++;
        continue;
      }
      modifiers.push(t);
      continue;
    }
    if (depth === 1 && current && parens <= 1) {
      if (t === ';') {
        member = [];
        continue;
      }
      member.push(t);
      // `static`, then the return type `void`, then `main(` — among this member's tokens.
      if (t === '(' && member.length >= 3 && member.at(-2) === 'main' && member.at(-3) === 'void' && member.includes('static')) current.main = true;
    }
  }
  return { package: pkg, types };
}

/** The entry's file name without its directory and `.java`. */
export function fileClassName(entry: string): string {
  return entry.slice(entry.lastIndexOf('/') + 1).replace(/\.java$/, '');
}

/**
 * The class `java` runs for an entry file: its public top-level type, else the type named like the
 * file, else the first top-level type with a `static void main`, else the file's name; qualified
 * by the file's package.
 */
export function mainClass(entry: string, src: string): string {
  const { package: pkg, types } = readJavaSource(src);
  const named = fileClassName(entry);
  const chosen = types.find((t) => t.public) ?? types.find((t) => t.name === named) ?? types.find((t) => t.main);
  const name = chosen?.name ?? named;
  return pkg ? `${pkg}.${name}` : name;
}

const CLASS_NAME = new RegExp(String.raw`^${IDENTIFIER}(?:\.${IDENTIFIER})*$`, 'u');

/** Whether `name` can name a class for `java` to run: identifiers joined by dots (never an option such as `--version`). */
export function isClassName(name: string): boolean {
  return CLASS_NAME.test(name);
}

/** The name a file must have for javac when the entry declares a public type named otherwise (`Solution.java`), or null. */
export function requiredFileName(entry: string, src: string): string | null {
  const pub = readJavaSource(src).types.find((t) => t.public);
  if (!pub || pub.name === fileClassName(entry)) return null;
  const dir = entry.includes('/') ? entry.slice(0, entry.lastIndexOf('/') + 1) : '';
  return `${dir}${pub.name}.java`;
}
