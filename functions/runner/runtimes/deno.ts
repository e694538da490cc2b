import path from 'node:path';
import { firstExecutable, npmBinary, which } from './locate.js';
import { defineHost } from './types.js';

/** Deno, from its npm package; TypeScript runs directly (the registry's command). */
export default defineHost({
  async locate(override) {
    const bin =
      firstExecutable([override]) ??
      npmBinary('deno', ['deno', 'bin/deno']) ??
      npmBinary('@deno/linux-x64-glibc', ['deno']) ??
      which('deno');
    return bin ? { root: path.dirname(bin), bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /deno\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim(),
  },
});
