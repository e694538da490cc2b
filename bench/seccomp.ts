/**
 * What the seccomp filters cost: a program started by the launcher as every execution is, next to
 * the same launcher built without them (a bench-only build; every shipped build loads them).
 * Runs alternate between the two, so machine noise falls on both alike.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { percentile, round } from './stats.js';

const SOURCES = path.join(import.meta.dirname, '../functions/runner/sandbox/launcher');

export interface FilterCost {
  program: string;
  runs: number;
  /** Wall time p50, ms. */
  withFilters: number;
  withoutFilters: number;
  /** CPU time per run (the launcher and its program), ms. */
  cpuWith: number;
  cpuWithout: number;
}

/** CPU time of this process's waited-for children so far (cutime + cstime), ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function run(argv: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // fd 3 is the launcher's report, as in every sandbox.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' } });
    (child.stdio[3] as NodeJS.ReadableStream).resume();
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

/** Measures `program` (argv) under the launcher with and without its filters, `runs` times each. */
export async function filterCost(name: string, program: string[], runs: number): Promise<FilterCost> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-bench-seccomp-'));
  try {
    execFileSync('sh', [path.join(SOURCES, 'build.sh'), dir, 'launch']);
    const bare = path.join(dir, 'runtools-launch-bare');
    execFileSync('cc', ['-O2', '-static', '-DRUNTOOLS_BENCH_WITHOUT_FILTERS', `-I${dir}`, '-o', bare, path.join(SOURCES, 'launch.c')]);
    const variants = { with: [path.join(dir, 'runtools-launch'), '-s', '3', '-n', '--', ...program], without: [bare, '-s', '3', '-n', '--', ...program] };
    const wall = { with: [] as number[], without: [] as number[] };
    const cpu = { with: 0, without: 0 };
    for (let i = -3; i < runs; i++) {
      for (const v of i % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const)) {
        const before = childrenCpuMs();
        const ms = await run(variants[v]);
        if (i < 0) continue;
        wall[v].push(ms);
        cpu[v] += childrenCpuMs() - before;
      }
    }
    return {
      program: name,
      runs,
      withFilters: round(percentile(wall.with, 50), 2),
      withoutFilters: round(percentile(wall.without, 50), 2),
      cpuWith: round(cpu.with / runs, 2),
      cpuWithout: round(cpu.without / runs, 2),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
