import { runtimeFacts } from '../../runtimes.js';
import { gccRefuses } from './cpp.js';
import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/** C with GCC: the registry's command builds every `.c` file into one binary, which then runs. */
export default defineHost({
  async locate(override) {
    // The real driver (Debian: /usr/bin/gcc → gcc-12 → x86_64-linux-gnu-gcc-12), not `cc`, which
    // /etc/alternatives may point at another compiler.
    const bin = firstExecutable([override, '/usr/bin/gcc', which('gcc') ?? undefined]);
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '-dumpfullversion'],
    parse: (out) => out.trim(),
  },
  refuse: (ctx) => gccRefuses(runtimeFacts('c'), ctx.files),
});
