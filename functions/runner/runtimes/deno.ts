import path from 'node:path';
import { firstExecutable, npmBinary, which } from './locate.js';
import { defineRuntime } from './types.js';

/**
 * Deno; TypeScript runs directly. The sandbox is the security boundary, so Deno gets every
 * permission it can use there (`-A`) and never prompts.
 */
export default defineRuntime({
  id: 'deno',
  aliases: [],
  entrypoint: 'main.ts',
  compiled: false,
  async locate() {
    const bin =
      firstExecutable([process.env.RUNTOOLS_DENO]) ??
      npmBinary('deno', ['deno', 'bin/deno']) ??
      npmBinary('@deno/linux-x64-glibc', ['deno']) ??
      which('deno');
    return bin ? { root: path.dirname(bin), bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => /deno\s+(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim(),
  },
  run: (ctx) => ({
    argv: [ctx.tool.bin, 'run', '-A', '--no-prompt', '--no-check', '--no-remote', ctx.entry, ...ctx.args],
    env: { DENO_DIR: `${ctx.tmpDir}/.deno`, DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1' },
  }),
});
