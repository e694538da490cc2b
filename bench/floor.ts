import { execFile, spawn } from 'node:child_process';
import { DEFAULT_RUN_LIMITS } from '../functions/runner/execute.js';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { goCacheMaster } from '../functions/runner/paths.js';
import { getRuntime, type RuntimeId } from '../functions/runner/runtimes/index.js';
import type { CommandContext, Toolchain } from '../functions/runner/runtimes/types.js';

const execFileAsync = promisify(execFile);

/** Runs argv on the host, no sandbox, no shell; rejects on a non-zero exit. */
export function spawnDirect(argv: string[], env: Record<string, string>, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}: ${err}`))));
  });
}

/** One program on the host: its compile step (compiled runtimes) and its run step. */
export interface FloorProgram {
  compile?: () => Promise<void>;
  run: () => Promise<void>;
  /** Replaces one source file (a new program for the next compile). */
  write(name: string, content: string): void;
}

/**
 * The toolchain itself, straight on the host: the same commands and environment the runner
 * issues, with a private copy of the warm Go cache, in a directory prepared once. This is the floor.
 */
export class Floor {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-floor-'));
  private readonly goCache = path.join(this.dir, 'gocache');

  constructor() {
    cpSync(goCacheMaster(), this.goCache, { recursive: true });
    execFileAsync('chmod', ['-R', 'u+w', this.goCache]).catch(() => {});
  }

  /** Prepares `files` for `runtime`: `compile` (compiled runtimes) and `run` the last build, directly on the host. */
  prepare(runtime: RuntimeId, tool: Toolchain, files: Record<string, string>, entry: string): FloorProgram {
    const rt = getRuntime(runtime);
    const dir = mkdtempSync(path.join(this.dir, `${runtime}-`));
    const work = path.join(dir, 'work');
    const all = { ...files, ...(rt.scaffold?.({ entry, files: Object.keys(files), sources: files }) ?? {}) };
    for (const [name, content] of Object.entries(all)) {
      mkdirSync(path.dirname(path.join(work, name)), { recursive: true });
      writeFileSync(path.join(work, name), content);
    }
    const ctx: CommandContext = {
      workDir: work,
      outDir: path.join(dir, 'out'),
      tmpDir: path.join(dir, 'tmp'),
      entry,
      files: Object.keys(all),
      args: [],
      tool,
      sources: all,
      memoryBytes: DEFAULT_RUN_LIMITS.memoryBytes,
      // What the compile reads besides its toolchain (javac's class-data archive), as in runtools.
      readOnlyPaths: rt.compileReadOnlyPaths?.(tool) ?? [],
    };
    mkdirSync(ctx.outDir);
    mkdirSync(ctx.tmpDir);
    const baseEnv = { PATH: `${path.dirname(tool.bin)}:/usr/bin:/bin`, HOME: ctx.tmpDir, LANG: 'C.UTF-8', TMPDIR: ctx.tmpDir };
    const binary = rt.compile ? (rt.compiledBinary!(ctx, '').binary ?? undefined) : undefined;
    const run = rt.run({ ...ctx, binary });
    const compile = rt.compile?.(ctx);
    return {
      compile: compile
        ? () => spawnDirect(compile.argv, { ...baseEnv, ...compile.env, ...(runtime === 'go' ? { GOCACHE: this.goCache } : {}) }, work)
        : undefined,
      // A fresh HOME/TMPDIR each run, as every execution gets: no toolchain cache (e.g. Deno's
      // transpile cache) carries over from one run to the next, on the floor or in runtools.
      run: () => {
        rmSync(ctx.tmpDir, { recursive: true, force: true });
        mkdirSync(ctx.tmpDir);
        return spawnDirect(run.argv, { ...baseEnv, ...run.env }, work);
      },
      write: (name, content) => writeFileSync(path.join(work, name), content),
    };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
