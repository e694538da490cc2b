import { InvalidArgumentError, type Command } from 'commander';
import type { ServerConfig } from '../../functions/api/config.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return port;
}

/** `runtools serve`: the local API, configured like `npm start` (environment variables), with --host/--port shortcuts. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve the runtools API on this machine (configured by environment variables; see the docs)')
    .option('--host <host>', 'address to bind (default: HOST or 127.0.0.1)')
    .option('--port <port>', 'port to listen on (default: PORT or 8787)', parsePort)
    .showHelpAfterError('hint: runtools serve --help')
    .action(async (options: { host?: string; port?: number }) => {
      const overrides: Partial<ServerConfig> = {};
      if (options.host) overrides.host = options.host;
      if (options.port !== undefined) overrides.port = options.port;
      const { serveFromEnv } = await import('../../functions/api/server.js');
      await serveFromEnv(process.env, overrides);
    });
}
