import path from 'node:path';
import { firstExecutable, which } from './locate.js';
import { defineRuntime } from './types.js';

/** Node.js; `main.js` may be CommonJS or ESM (module syntax is detected). */
export default defineRuntime({
  id: 'node',
  aliases: ['js', 'javascript', 'nodejs'],
  entrypoint: 'main.js',
  compiled: false,
  async locate() {
    const bin = firstExecutable([process.env.RUNTOOLS_NODE]) ?? which('node') ?? firstExecutable([process.execPath]);
    return bin ? { root: path.dirname(path.dirname(bin)), bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => out.trim().replace(/^v/, ''),
  },
  run: (ctx) => ({
    argv: [ctx.tool.bin, '--experimental-detect-module', '--disable-warning=ExperimentalWarning', ctx.entry, ...ctx.args],
    env: { NODE_OPTIONS: '', NODE_NO_WARNINGS: '' },
  }),
});
