/**
 * The SDK's Node-only helpers, which touch the file system: test cases from a folder
 * (`<name>.in` is a test's stdin, `<name>.out` or `<name>.ans` its expected output; the result is
 * the `tests` of an ExecuteRequest), and writing a result's returned files (`outputs`) to a folder.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExecuteResult, OutputFile, TestCase } from './types.js';

export type { TestCase };

export interface TestsFromDirectoryOptions {
  /** @default '.in' */
  inputExt?: string;
  /** @default '.out' (then '.ans' for a test without a '.out') */
  outputExt?: string;
}

/** Tests in one request (the API's maximum). */
export const MAX_DIRECTORY_TESTS = 100;
/** One input or output file, bytes (the API's bound on an expected output). */
export const MAX_CASE_FILE_BYTES = 1024 * 1024;

const DEFAULT_INPUT_EXT = '.in';
const DEFAULT_OUTPUT_EXT = '.out';
/** Read as an output when the default output extension is in use and a test has no `.out`. */
const FALLBACK_OUTPUT_EXT = '.ans';

const dotted = (ext: string) => (ext.startsWith('.') ? ext : `.${ext}`);

/**
 * Reads the test cases in `dir`: pairs `<name>.in` / `<name>.out`, sorted by name with numbers in
 * numeric order (1, 2, 10). An input without an output is a test without `expectedOutput`; an output
 * without an input gets an empty stdin. Only regular files count (links and anything else are
 * skipped, never followed or opened). Throws when there are more than 100 tests, or a file is
 * larger than 1 MiB or not UTF-8 text.
 */
export async function testsFromDirectory(dir: string, options: TestsFromDirectoryOptions = {}): Promise<TestCase[]> {
  const inputExt = dotted(options.inputExt ?? DEFAULT_INPUT_EXT);
  const outputExts = options.outputExt === undefined ? [DEFAULT_OUTPUT_EXT, FALLBACK_OUTPUT_EXT] : [dotted(options.outputExt)];
  if (outputExts.includes(inputExt)) throw new Error(`the input and output extensions must differ (both are ${JSON.stringify(inputExt)})`);

  const cases = new Map<string, { input?: string; output?: string; outputRank?: number }>();
  for (const entry of (await readdir(dir)).sort()) {
    const kind = classify(entry, inputExt, outputExts);
    if (!kind) continue;
    const full = path.join(dir, entry);
    if (!isRegular(await lstat(full))) continue;
    const found = cases.get(kind.name) ?? {};
    if (kind.rank === -1) found.input = full;
    else if (found.outputRank === undefined || kind.rank < found.outputRank) {
      found.output = full;
      found.outputRank = kind.rank;
    }
    cases.set(kind.name, found);
  }
  if (cases.size > MAX_DIRECTORY_TESTS) {
    throw new Error(`${dir} holds ${cases.size} test cases; at most ${MAX_DIRECTORY_TESTS} are accepted in one request`);
  }

  const names = [...cases.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const tests: TestCase[] = [];
  for (const name of names) {
    const { input, output } = cases.get(name)!;
    const stdin = input === undefined ? '' : await readCaseFile(input);
    tests.push(output === undefined ? { name, stdin } : { name, stdin, expectedOutput: await readCaseFile(output) });
  }
  return tests;
}

/** The test a file name belongs to, and its role: rank -1 for an input, else the output extension's rank. */
function classify(entry: string, inputExt: string, outputExts: string[]): { name: string; rank: number } | null {
  const candidates: Array<[string, number]> = [[inputExt, -1], ...outputExts.map((ext, i): [string, number] => [ext, i])];
  for (const [ext, rank] of candidates) {
    if (entry.length > ext.length && entry.endsWith(ext)) return { name: entry.slice(0, -ext.length), rank };
  }
  return null;
}

function isRegular(stats: Stats): boolean {
  return stats.isFile() && !stats.isSymbolicLink();
}

/**
 * A case file as UTF-8 text, at most MAX_CASE_FILE_BYTES. Opened without following links and
 * without blocking (a FIFO put in a file's place after the lstat must not hang the read), then
 * checked again through the open handle.
 */
async function readCaseFile(file: string): Promise<string> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new Error(`${file} is not a regular file`);
    if (stats.size > MAX_CASE_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_CASE_FILE_BYTES} bytes (1 MiB), the limit for a test file`);
    // Read at most one byte past the bound: a file that grew after the stat is refused too.
    const buffer = Buffer.alloc(MAX_CASE_FILE_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > MAX_CASE_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_CASE_FILE_BYTES} bytes (1 MiB), the limit for a test file`);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new Error(`${file} is not UTF-8 text`);
    }
  } finally {
    await handle.close();
  }
}

/** Why a returned file's path cannot be written beneath a folder, or null when it can. */
function outputPathProblem(p: string): string | null {
  if (p === '' || p.includes('\0')) return 'not a file name';
  if (path.posix.isAbsolute(p) || path.win32.isAbsolute(p)) return 'an absolute path';
  const parts = p.split(/[\\/]/);
  if (parts.includes('..')) return "a path containing '..'";
  if (parts.some((s) => s === '' || s === '.')) return 'not a plain relative path';
  return null;
}

/**
 * Writes the files a result brought back (`result.files`, for a request's `outputs`) beneath `dir`,
 * creating folders, base64 content decoded; files without content (over a bound) are skipped.
 * Every path is checked before anything is written: an absolute one, one containing `..`, or one
 * that would land outside `dir` throws. Nothing existing is followed or overwritten: a folder on
 * the way that is a symbolic link (or not a folder) throws, and each file is created new
 * (O_EXCL | O_NOFOLLOW), so a file or link already at its place throws (EEXIST) and its target is
 * never touched. Returns the paths written (`dir` joined with each file's path).
 */
export async function writeOutputFiles(result: Pick<ExecuteResult, 'files'>, dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const planned: { file: OutputFile & { content: string }; dest: string; parts: string[] }[] = [];
  for (const file of result.files ?? []) {
    if (file.content === undefined) continue;
    const problem = outputPathProblem(file.path);
    const dest = path.resolve(root, file.path);
    const rel = path.relative(root, dest);
    if (problem || rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new Error(`refusing to write ${JSON.stringify(file.path)}: ${problem ?? `it resolves outside ${dir}`}`);
    }
    planned.push({ file: file as OutputFile & { content: string }, dest, parts: rel.split(path.sep) });
  }
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  for (const { file, dest, parts } of planned) {
    // Each folder on the way: made here, or a real folder already (never a link to elsewhere).
    let at = root;
    for (const part of parts.slice(0, -1)) {
      at = path.join(at, part);
      const st = await lstat(at).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (!st) await mkdir(at).catch((err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? undefined : Promise.reject(err)));
      else if (!st.isDirectory()) throw new Error(`refusing to write ${JSON.stringify(file.path)}: ${at} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a folder'}`);
    }
    const bytes = file.encoding === 'base64' ? Buffer.from(file.content, 'base64') : Buffer.from(file.content, 'utf8');
    const handle = await open(dest, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      await handle.writeFile(bytes);
    } catch (err) {
      await handle.close().catch(() => {});
      await rm(dest, { force: true });
      throw err;
    }
    await handle.close();
    written.push(path.join(dir, file.path));
  }
  return written;
}
