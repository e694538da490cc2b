import { argvPath } from '../../runtimes.js';
import { firstExecutable, toolchainAt, which } from './locate.js';
import { defineHost } from './types.js';

/**
 * Node makes its stdout/stderr non-blocking when they are sockets (process mode's pipes are), and a
 * tight write loop then buffers without bound instead of waiting for the reader. Blocking writes
 * give the output cap its back-pressure, as with a terminal or a file.
 */
const BLOCKING_STDIO = `data:text/javascript,${encodeURIComponent(
  'for (const s of [process.stdout, process.stderr]) if (s._handle && s._handle.setBlocking) s._handle.setBlocking(true);',
)}`;

/** Node.js; `main.js` may be CommonJS or ESM (module syntax is detected). */
export default defineHost({
  async locate(override) {
    const bin = firstExecutable([override]) ?? which('node') ?? firstExecutable([process.execPath]);
    return toolchainAt(bin);
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => out.trim().replace(/^v/, ''),
  },
  run: (ctx) => ({
    argv: [ctx.tool.bin, '--experimental-detect-module', '--disable-warning=ExperimentalWarning', '--import', BLOCKING_STDIO, argvPath(ctx.entry), ...ctx.args],
    env: { NODE_OPTIONS: '', NODE_NO_WARNINGS: '' },
  }),
});
