import { readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { argvPath, runtimeFacts, sourceFiles, type RuntimeFacts } from '../../runtimes.js';
import { firstExecutable, hostOutput, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/**
 * The language standard for a g++ major version: C++20 from g++ 14 on (the images' GCC 14.2),
 * C++17 before (Debian 12's g++ 12: its library has no C++20 <format>, and its C++20 mode takes
 * half as long again as C++17 to compile `bits/stdc++.h`).
 */
export function standardFor(major: number): 'c++20' | 'c++17' {
  return major >= 14 ? 'c++20' : 'c++17';
}

/*
 * The compile command depends on the compiler found, which only locate() sees (commands get the
 * sandbox's view of the toolchain, not its version): locate() records what the command needs.
 * A process has one C++ toolchain (RUNTOOLS_CXX, else the search), located before any compile.
 */
/** The standard of the compiler located. */
let standard: 'c++20' | 'c++17' = 'c++17';
/** The precompiled-header directory, when it holds a header built by that compiler with these flags. */
let pch: string | null = null;

/** The flags every compile uses, and the precompiled header is built with: g++ ignores a header built with others. */
export function compileFlags(): string[] {
  return ['-O2', `-std=${standard}`];
}

/**
 * Where set-up puts the precompiled `bits/stdc++.h` (scripts/build-cpp-pch.ts): read-only to
 * compiles, which find it through `-I` before the system headers. RUNTOOLS_CXX_PCH overrides it.
 */
export function pchDir(): string {
  if (process.env.RUNTOOLS_CXX_PCH) return process.env.RUNTOOLS_CXX_PCH;
  return process.getuid?.() === 0 ? '/var/cache/runtools/cpp-pch' : path.join(os.homedir(), '.cache/runtools/cpp-pch');
}

/** The precompiled header, its make-style dependency list, and what it was built by and with. */
export const PCH_FILES = { header: 'bits/stdc++.h.gch', deps: 'bits/stdc++.h.d', stamp: 'stamp.json' } as const;

/** What a precompiled header must have been built by and with to be used. */
export function pchStamp(bin: string, version: string): string {
  return JSON.stringify({ bin, version, flags: compileFlags() });
}

/**
 * Whether `dir` holds a precompiled header built by this compiler with these flags, newer than
 * every header it was built from (a libstdc++ update makes it stale). g++ checks its own binary
 * and flags, and quietly ignores a header that does not fit; the headers' contents it cannot check.
 */
export function pchUsable(dir: string, bin: string, version: string): boolean {
  try {
    if (readFileSync(path.join(dir, PCH_FILES.stamp), 'utf8') !== pchStamp(bin, version)) return false;
    const built = statSync(path.join(dir, PCH_FILES.header)).mtimeMs;
    // "target: dep dep \<newline> dep …": every header the build read.
    const rule = readFileSync(path.join(dir, PCH_FILES.deps), 'utf8');
    const headers = rule.slice(rule.indexOf(': ') + 2).replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
    return headers.length > 0 && headers.every((h) => statSync(h).mtimeMs <= built);
  } catch {
    return false;
  }
}

/**
 * The sources of a GCC compile (`.c` or C++) that no argv can give GCC as files: GCC's compiler
 * proper (cc1, cc1plus) gets each source's base name again, as `-dumpbase <name>`, and reads an
 * argument `@name` as a file of options (the work dir's file `name`, when there is one), whatever
 * path the driver was given. Refused (API.md: a file name is always a path to the toolchain).
 */
export function gccRefuses(facts: Pick<RuntimeFacts, 'extensions'>, files: readonly string[]): string | null {
  const refused = sourceFiles(facts, files).filter((f) => path.posix.basename(f).startsWith('@'));
  if (refused.length === 0) return null;
  return `${refused.map((f) => JSON.stringify(f)).join(', ')}: GCC reads a source file whose name starts with @ as a file of options; rename it`;
}

/**
 * C++ with g++: every source file into one binary, in the standard the compiler's version calls
 * for; `#include <bits/stdc++.h>` comes precompiled when set-up has built it.
 */
export default defineHost({
  async locate(override) {
    // The real driver (Debian: /usr/bin/g++ → g++-12 → x86_64-linux-gnu-g++-12), not `c++`, which
    // /etc/alternatives may point at another compiler.
    const bin = firstExecutable([override, '/usr/bin/g++', which('g++') ?? undefined]);
    if (!bin) return null;
    const version = await hostOutput(bin, ['-dumpfullversion']);
    if (!version) return null;
    standard = standardFor(Number.parseInt(version, 10));
    pch = pchUsable(pchDir(), bin, version) ? pchDir() : null;
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '-dumpfullversion'],
    parse: (out) => out.trim(),
  },
  refuse: (ctx) => gccRefuses(runtimeFacts('cpp'), ctx.files),
  compileReadOnlyPaths: () => (pch ? [pch] : []),
  compile: (ctx) => ({
    argv: [ctx.tool.bin, ...compileFlags(), ...(pch ? ['-I', pch] : []), '-o', `${ctx.outDir}/main`, ...sourceFiles(runtimeFacts('cpp'), ctx.files).map(argvPath)],
  }),
  compiledBinary: (ctx, stdout) => ({ binary: `${ctx.outDir}/main`, stdout }),
});
