import path from 'node:path';
import { firstExecutable, which } from './locate.js';
import { defineRuntime } from './types.js';

/** CPython 3; prefers the system interpreter, which carries Debian's numpy. */
export default defineRuntime({
  id: 'python',
  aliases: ['py', 'python3'],
  entrypoint: 'main.py',
  compiled: false,
  async locate() {
    const bin = firstExecutable([process.env.RUNTOOLS_PYTHON, '/usr/bin/python3']) ?? which('python3');
    return bin ? { root: path.dirname(path.dirname(bin)), bin } : null;
  },
  version: {
    argv: (tool) => [tool.bin, '--version'],
    parse: (out) => out.replace(/^Python\s+/, '').trim(),
  },
  run: (ctx) => ({
    argv: [ctx.tool.bin, '-u', ctx.entry, ...ctx.args],
    env: { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' },
  }),
});
