import type { Command } from 'commander';
import type { Limits } from '../../functions/contract.js';

/**
 * Limits for requests a remote API validates itself: its maxima are its own (they may exceed this
 * machine's defaults), so only the API.md defaults are applied here.
 */
const remoteLimits = (defaults: Limits): Limits => ({
  ...defaults,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
  maxFiles: Number.MAX_SAFE_INTEGER,
  maxStdinBytes: Number.MAX_SAFE_INTEGER,
  maxTimeoutMs: Number.MAX_SAFE_INTEGER,
  maxMemoryMb: Number.MAX_SAFE_INTEGER,
});

/** How long in-flight executions get to stop once the client has gone. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * `runtools mcp`: an MCP server on stdio with the tools execute_code and list_runtimes, running
 * code where `runtools exec` would (this machine, or the API at RUNTOOLS_API_URL). stdout carries
 * protocol messages only; anything else goes to stderr.
 */
export function registerMcp(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('mcp')
    .description('serve the tools execute_code and list_runtimes to an MCP client over stdio')
    .option('--local', 'run on this machine even when RUNTOOLS_API_URL is set')
    .showHelpAfterError('hint: runtools mcp --help')
    .action((options: { local?: boolean }) => run(() => serveMcp(options.local ?? false)));
}

async function serveMcp(local: boolean): Promise<number> {
  // Nothing but protocol messages may reach stdout: a stray console.log would corrupt the stream.
  console.log = console.info = console.debug = console.error;
  const [{ StdioServerTransport }, { DEFAULT_LIMITS }, { limitsOf, loadConfig }, { createMcpServer }, { chooseBackend }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/stdio.js'),
    import('../../functions/contract.js'),
    import('../../functions/api/config.js'),
    import('../../functions/api/mcp.js'),
    import('../backend.js'),
  ]);
  const backend = chooseBackend(local);
  const limits = backend.kind === 'local' ? limitsOf(loadConfig(process.env)) : remoteLimits(DEFAULT_LIMITS);
  if (backend.kind === 'local') {
    // Starts the sandbox now (the first call is faster) and keeps a runner that cannot start from
    // being an unhandled rejection: the tool calls report it.
    backend.runtimes().catch((error: unknown) => process.stderr.write(`runtools: ${error instanceof Error ? error.message : String(error)}\n`));
  }

  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  const server = createMcpServer({
    limits,
    execute: (request, signal) => {
      const execution = backend.execute(request, signal ? AbortSignal.any([signal, stopping.signal]) : stopping.signal);
      const settled = execution.catch(() => {}).finally(() => running.delete(settled));
      running.add(settled);
      return execution;
    },
    runtimes: () => backend.runtimes(),
  });
  // A client that is gone cannot be written to; that is no reason to crash.
  process.stdout.on('error', () => {});

  let done!: (reason: string) => void;
  const finished = new Promise<string>((resolve) => (done = resolve));
  const transport = new StdioServerTransport();
  transport.onclose = () => done('closed');
  process.stdin.once('end', () => done('end'));
  process.stdin.once('close', () => done('end'));
  const onSignal = (signal: NodeJS.Signals) => done(signal);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await server.connect(transport);

  const reason = await finished;
  // In-flight executions stop (their sandboxes are cleaned up) before the process exits.
  stopping.abort();
  await Promise.race([Promise.allSettled([...running]), sleep(SHUTDOWN_GRACE_MS)]);
  await server.close().catch(() => {});
  if (reason === 'SIGINT') return 130;
  if (reason === 'SIGTERM') return 143;
  return 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
