/**
 * Files out (API.md "Files out"): the files a program left in its work directory that match the
 * request's `outputs` patterns, read after the run as hostile data (hostile-fs.ts): one walk that
 * never follows a link, never opens anything but a regular file, never blocks, and reads each
 * match through its own descriptor, bounded.
 */
import { DEFAULT_OUTPUT_LIMITS, type OutputFile } from '../contract.js';
import { compileGlobs } from './glob.js';
import { readAtMost, scanDirectory } from './hostile-fs.js';

/** How much of a work directory comes back: server-configurable (RUNTOOLS_MAX_OUTPUT_*). */
export interface OutputBounds {
  /** Files listed, at most; more matches set filesTruncated. @default 100 */
  maxFiles: number;
  /** Bytes of one file; a larger one is listed with its size, truncated and no content. @default 10 MiB */
  maxFileBytes: number;
  /** Bytes of content of all files; the first file that does not fit, and every one after it, comes without content. @default 20 MiB */
  maxTotalBytes: number;
  /** Entries (files and folders) the walk looks at, at most. @default 20,000 */
  maxEntries: number;
  /** Folders nested deeper than this are not searched. @default 32 */
  maxDepth: number;
}

const DEFAULT_OUTPUT_BOUNDS: OutputBounds = {
  ...DEFAULT_OUTPUT_LIMITS,
  maxEntries: 20_000,
  maxDepth: 32,
};

/** What `files` and `filesTruncated` of a result hold. */
interface CollectedOutputs {
  files: OutputFile[];
  filesTruncated: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as a result carries them: UTF-8 text when they are valid UTF-8 without NUL, else base64. */
function encodeContent(bytes: Buffer): Pick<OutputFile, 'encoding' | 'content'> {
  if (!bytes.includes(0)) {
    try {
      return { encoding: 'utf8', content: utf8.decode(bytes) };
    } catch {
      /* not UTF-8 */
    }
  }
  return { encoding: 'base64', content: bytes.toString('base64') };
}

/**
 * Collects the regular files beneath `workDir` (the host path of a finished program's work
 * directory) that match any of `patterns`, in path order, within `bounds`. Links, FIFOs, sockets and
 * devices are skipped without being opened; folders are entered only when a pattern could match
 * inside them. A file without content (over a bound) has `truncated: true` and encoding base64.
 */
export async function collectOutputs(workDir: string, patterns: readonly string[], bounds: Partial<OutputBounds> = {}): Promise<CollectedOutputs> {
  const b: OutputBounds = { ...DEFAULT_OUTPUT_BOUNDS, ...bounds };
  const glob = compileGlobs(patterns);
  const files: OutputFile[] = [];
  let total = 0;
  let filesTruncated = false;
  /** Listed without content when over a bound: the file's own (`filesTruncated` unchanged) or the total's (set, and every later file too). */
  const overBounds = (sub: string, size: number): boolean => {
    if (size <= b.maxFileBytes && !filesTruncated && total + size <= b.maxTotalBytes) return false;
    if (size <= b.maxFileBytes) filesTruncated = true;
    files.push({ path: sub, size, encoding: 'base64', truncated: true });
    return true;
  };
  const complete = await scanDirectory(workDir, { maxEntries: b.maxEntries, maxDepth: b.maxDepth }, {
    enter: (sub) => glob.mayContain(sub),
    wants: (sub) => glob.matches(sub),
    file: async (sub, handle, st) => {
      if (files.length >= b.maxFiles) {
        filesTruncated = true;
        return 'stop';
      }
      if (overBounds(sub, st.size)) return;
      const bytes = await readAtMost(handle, b.maxFileBytes, st.size);
      // It grew since its fstat (something still writing it): the bounds hold all the same.
      if (bytes.length > st.size && overBounds(sub, bytes.length)) return;
      total += bytes.length;
      files.push({ path: sub, size: bytes.length, ...encodeContent(bytes) });
    },
  });
  return { files, filesTruncated: filesTruncated || !complete };
}
