/**
 * What the playground edits: a program, in the shape of the API's request (POST /v1/execute), so
 * the share link, the saved draft and the request body are one format.
 */

export interface Program {
  runtime: string;
  /** File name → contents, in tab order. */
  files: Record<string, string>;
  entrypoint: string;
  stdin?: string;
  args?: string[];
  /** Milliseconds; absent: the server's default. */
  timeout?: number;
}

/** The URL fragment of a share link: `#program=<base64url of the program's JSON>`. */
export const SHARE_PREFIX = '#program=';

export function encodeProgram(program: Program): string {
  const bytes = new TextEncoder().encode(JSON.stringify(compact(program)));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The program a share fragment carries; throws when it is not one. */
export function decodeProgram(encoded: string): Program {
  const base64 = encoded.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  return parseProgram(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
}

/** Checks what a link or the saved draft holds, field by field. */
export function parseProgram(value: unknown): Program {
  if (!isRecord(value)) throw new Error('not a program');
  const { runtime, files, entrypoint, stdin, args, timeout } = value;
  if (typeof runtime !== 'string' || runtime === '') throw new Error('no runtime');
  if (!isRecord(files) || Object.keys(files).length === 0) throw new Error('no files');
  const names = Object.keys(files);
  if (!names.every((name) => typeof files[name] === 'string')) throw new Error('a file is not text');
  const program: Program = {
    runtime,
    files: files as Record<string, string>,
    entrypoint: typeof entrypoint === 'string' && names.includes(entrypoint) ? entrypoint : names[0]!,
  };
  if (typeof stdin === 'string' && stdin !== '') program.stdin = stdin;
  if (Array.isArray(args) && args.length > 0 && args.every((a) => typeof a === 'string')) program.args = args as string[];
  if (typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0) program.timeout = timeout;
  return program;
}

/** The program without its empty optional fields (shorter links, the same request). */
function compact(program: Program): Program {
  const out: Program = { runtime: program.runtime, files: program.files, entrypoint: program.entrypoint };
  if (program.stdin) out.stdin = program.stdin;
  if (program.args?.length) out.args = program.args;
  if (program.timeout !== undefined) out.timeout = program.timeout;
  return out;
}

/** The request body for POST /v1/execute. */
export function requestOf(program: Program): Record<string, unknown> {
  return compact(program) as unknown as Record<string, unknown>;
}

/**
 * Splits an arguments field the way a POSIX shell splits words: whitespace separates, single
 * quotes keep everything, double quotes keep everything but `\"` and `\\`, a backslash outside
 * quotes escapes the next character. An unterminated quote runs to the end.
 */
export function splitArgs(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      current += text.slice(i + 1, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
      inWord = true;
    } else if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        current += text[i];
        i++;
      }
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) args.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) args.push(current);
  return args;
}

/** The inverse of splitArgs: words quoted only where they need it. */
export function joinArgs(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
