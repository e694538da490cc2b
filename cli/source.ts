import { lstatSync, readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';

/** What to send for a source argument: inline code, or files with an entry. */
export type Source = { code: string } | { files: Record<string, string>; entrypoint?: string };

export interface FolderLimits {
  maxFiles: number;
  maxBytes: number;
}

/** A folder bigger than this is refused (the API's own limits are 1,000 files and 6 MiB per request). */
export const DEFAULT_FOLDER_LIMITS: FolderLimits = { maxFiles: 1000, maxBytes: 5 * 1024 * 1024 };

const SKIPPED_DIRS = new Set(['node_modules', '__pycache__', 'target']);
const LOOKS_LIKE_PATH = /^(\.{1,2}\/|\/|~\/)|\.(py|js|mjs|cjs|ts|mts|go|rs)$/;

/** Decides whether the argument is a path (an existing file or folder) or inline code, and reads it. */
export function readSource(arg: string, entry: string | undefined, limits: FolderLimits = DEFAULT_FOLDER_LIMITS): Source {
  const stats = statOrNull(arg);
  if (!stats) {
    if (!arg.includes('\n') && !/\s/.test(arg) && LOOKS_LIKE_PATH.test(arg)) {
      throw new UsageError(`no such file or folder: ${arg}`, 'pass an existing path, or quote inline code');
    }
    if (entry !== undefined) throw new UsageError('--entry needs a folder as the source');
    return { code: arg };
  }
  if (stats.isDirectory()) return readFolder(arg, entry, limits);
  if (entry !== undefined) throw new UsageError('--entry needs a folder as the source, not a file');
  if (stats.size > limits.maxBytes) throw new UsageError(`${arg} is larger than ${limits.maxBytes} bytes`);
  const name = path.basename(arg);
  return { files: { [name]: readText(arg) }, entrypoint: name };
}

function readFolder(root: string, entry: string | undefined, limits: FolderLimits): Source {
  const files: Record<string, string> = {};
  let count = 0;
  let bytes = 0;
  const walk = (dir: string, prefix: string) => {
    for (const dirent of readdirSync(dir, { withFileTypes: true })) {
      if (dirent.name.startsWith('.') || SKIPPED_DIRS.has(dirent.name)) continue;
      const full = path.join(dir, dirent.name);
      const rel = prefix ? `${prefix}/${dirent.name}` : dirent.name;
      if (dirent.isDirectory()) {
        walk(full, rel);
        continue;
      }
      if (!dirent.isFile()) continue;
      count++;
      bytes += lstatSync(full).size;
      if (count > limits.maxFiles) throw new UsageError(`${root} holds more than ${limits.maxFiles} files`, 'point at a smaller folder');
      if (bytes > limits.maxBytes) throw new UsageError(`${root} holds more than ${limits.maxBytes} bytes`, 'point at a smaller folder');
      files[rel] = readText(full);
    }
  };
  walk(root, '');
  if (count === 0) throw new UsageError(`${root} has no files to send`);
  if (entry !== undefined) {
    const normalized = entry.replace(/^\.\//, '');
    if (!(normalized in files)) throw new UsageError(`--entry ${entry} is not a file in ${root}`);
    return { files, entrypoint: normalized };
  }
  return { files };
}

function readText(file: string): string {
  const buffer = readFileSync(file);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buffer);
  } catch {
    throw new UsageError(`${file} is not UTF-8 text; only text files can be sent`);
  }
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}
