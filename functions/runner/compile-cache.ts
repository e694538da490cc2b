import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CompileResult } from '../contract.js';
import { copyOutOf, copyTreeOutOf, type TreeLimits } from './hostile-fs.js';

/** What a cache entry holds: the built binary and what the compiler said while building it. */
export interface CachedBuild {
  /** Binary path relative to the out dir, as the compile produced it. */
  binary: string;
  /** The binary is a directory of regular files (Java's classes), kept and restored as a tree. */
  directory?: boolean;
  compile: Pick<CompileResult, 'stdout' | 'stderr'>;
}

/** build.json: the build, and the bytes its binary holds (a tree's size is not its directory's). */
type Meta = CachedBuild & { size?: number };

interface Entry {
  size: number;
  used: number;
  /** build.json, once read. */
  meta?: Meta;
}

const META = 'build.json';
const BINARY = 'binary';
/** The largest binary kept (a Go or Rust program is a few MB); the cache's own size bounds it too. */
const MAX_BINARY_BYTES = 128 * 1024 * 1024;
/** The largest tree kept: its files and directories (a Java program has a few dozen classes). */
export const MAX_TREE_ENTRIES = 10_000;

/**
 * Successful builds keyed by everything that determines them (source files, entry, compile
 * command, toolchain and version). Bounded in bytes, least recently used evicted first.
 * Entries are immutable; a hit is linked into the execution's own out dir, which its program
 * only ever sees read-only, so no execution can change what another one runs.
 */
export class CompileCache {
  private readonly entries = new Map<string, Entry>();
  private total = 0;
  private loaded: Promise<void> | null = null;

  constructor(readonly dir: string, readonly maxBytes: number) {}

  /** The cache key of one build. */
  static key(parts: unknown): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      for (const name of await readdir(this.dir)) {
        const info = await stat(path.join(this.dir, name, BINARY)).catch(() => null);
        const size = info?.isDirectory() ? await this.readMeta(name).then((m) => m.size, () => undefined) : info?.size;
        if (info && size !== undefined) this.remember(name, size, info.mtimeMs);
        else if (!name.startsWith('.')) await rm(path.join(this.dir, name), { recursive: true, force: true });
      }
    })();
    return this.loaded;
  }

  private remember(key: string, size: number, used: number): void {
    const old = this.entries.get(key);
    if (old) this.total -= old.size;
    this.entries.set(key, { size, used });
    this.total += size;
  }

  private async readMeta(key: string): Promise<Meta> {
    return JSON.parse(await readFile(path.join(this.dir, key, META), 'utf8')) as Meta;
  }

  /** Copies a cached build into `outDir` and returns it, or null on a miss. */
  async restore(key: string, outDir: string): Promise<CachedBuild | null> {
    await this.load();
    if (!this.entries.has(key)) return null;
    const entryDir = path.join(this.dir, key);
    let target: string | undefined;
    try {
      const entry = this.entries.get(key)!;
      const meta = (entry.meta ??= await this.readMeta(key));
      target = path.join(outDir, meta.binary);
      if (path.dirname(meta.binary) !== '.') await mkdir(path.dirname(target), { recursive: true });
      await (meta.directory ? linkTree : linkFile)(path.join(entryDir, BINARY), target);
      const now = Date.now();
      entry.used = now;
      void utimes(path.join(entryDir, BINARY), now / 1000, now / 1000).catch(() => {});
      const { size: _size, ...build } = meta;
      return build;
    } catch {
      // The build compiles again, into an out dir as it was.
      if (target) await rm(target, { recursive: true, force: true }).catch(() => {});
      this.forget(key);
      return null;
    }
  }

  /**
   * Stores a successful build (binary at `outDir/build.binary`); never fails the execution. The out
   * dir is the program's (build scripts write there): the binary is copied from a descriptor of a
   * regular file reached without following links, within a size bound, or not at all; a directory
   * binary is walked the same way, every entry a regular file or a directory, or not kept at all.
   */
  async store(key: string, outDir: string, build: CachedBuild): Promise<void> {
    const staging = path.join(this.dir, `.staging-${key}-${process.pid}-${Date.now()}`);
    try {
      await this.load();
      if (this.entries.has(key)) return;
      await mkdir(staging, { recursive: true });
      const maxBytes = Math.min(this.maxBytes, MAX_BINARY_BYTES);
      const size = build.directory
        ? (await copyTreeOutOf(outDir, build.binary, path.join(staging, BINARY), { maxBytes, maxEntries: MAX_TREE_ENTRIES } satisfies TreeLimits)).bytes
        : await copyOutOf(outDir, build.binary, path.join(staging, BINARY), maxBytes);
      const meta: Meta = { ...build, ...(build.directory ? { size } : {}) };
      await writeFile(path.join(staging, META), JSON.stringify(meta));
      // Another process may have stored the same build meanwhile: theirs is as good.
      await rename(staging, path.join(this.dir, key)).catch(() => {});
      this.remember(key, size, Date.now());
      await this.evict();
    } catch {
      /* a cache that cannot store is a cache miss next time */
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => {});
    }
  }

  private forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.total -= entry.size;
    this.entries.delete(key);
    void rm(path.join(this.dir, key), { recursive: true, force: true });
  }

  private async evict(): Promise<void> {
    if (this.total <= this.maxBytes) return;
    const byAge = [...this.entries].sort((a, b) => a[1].used - b[1].used);
    for (const [key] of byAge) {
      if (this.total <= this.maxBytes) break;
      this.forget(key);
    }
  }

  /** Bytes currently held. */
  get size(): number {
    return this.total;
  }
}

// A hard link, not a copy (a 2 MB Go binary takes ms to copy): the run phase sees its out dir
// read-only, so no execution can change the file another one runs. A copy across filesystems.
async function linkFile(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

/** Recreates a kept tree (the cache's own, written by copyTreeOutOf) at `to`: its directories, its files linked. */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.isDirectory()) await linkTree(path.join(from, entry.name), path.join(to, entry.name));
    else if (entry.isFile()) await linkFile(path.join(from, entry.name), path.join(to, entry.name));
  }
}
