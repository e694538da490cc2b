import path from 'node:path';
import { runtimeFacts } from '../../runtimes.js';
import { firstExecutable, hostOutput, which } from './locate.js';
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

/** The flags every compile uses. */
export function compileFlags(): string[] {
  return ['-O2', `-std=${standard}`];
}

const isSource = (f: string) => runtimeFacts('cpp').extensions.some((ext) => f.endsWith(ext));

/** C++ with g++: every source file into one binary, in the standard the compiler's version calls for. */
export default defineHost({
  async locate(override) {
    // The real driver (Debian: /usr/bin/g++ → g++-12 → x86_64-linux-gnu-g++-12), not `c++`, which
    // /etc/alternatives may point at another compiler.
    const bin = firstExecutable([override, '/usr/bin/g++', which('g++') ?? undefined]);
    if (!bin) return null;
    const version = await hostOutput(bin, ['-dumpfullversion']);
    if (!version) return null;
    standard = standardFor(Number.parseInt(version, 10));
    return { root: path.dirname(path.dirname(bin)), bin };
  },
  version: {
    argv: (tool) => [tool.bin, '-dumpfullversion'],
    parse: (out) => out.trim(),
  },
  compile: (ctx) => ({
    argv: [ctx.tool.bin, ...compileFlags(), '-o', `${ctx.outDir}/main`, ...ctx.files.filter(isSource)],
  }),
  compiledBinary: (ctx, stdout) => ({ binary: `${ctx.outDir}/main`, stdout }),
});
