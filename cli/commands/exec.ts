import { InvalidArgumentError, type Command } from 'commander';
import { runtimeChoices } from '../../functions/runtimes.js';
import type { ExecuteRequest, ExecuteResult } from '../../functions/contract.js';
import { chooseBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { readStdin, spinner, write } from '../io.js';
import { readSource, type Source } from '../source.js';

interface ExecOptions {
  runtime: string;
  entry?: string;
  stdin?: string;
  timeout?: number;
  env: string[];
  json?: boolean;
  local?: boolean;
}

/** Parses a positive whole number of milliseconds. */
export function parseMs(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number of milliseconds');
  return Number(value);
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `runtools exec`: runs inline code, a file or a folder and exits with the program's exit code. */
export function registerExec(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('exec')
    .description('run code: inline, a file, or a folder (with --entry); the exit code is the program\'s')
    .argument('<source>', 'inline code, a file, a folder, or - to read the code from stdin')
    .argument('[args...]', 'arguments for the program (put them after --)')
    .requiredOption('-r, --runtime <runtime>', runtimeChoices())
    .option('-e, --entry <file>', 'entry file inside the folder')
    .option('--stdin <text>', "the program's stdin (default: piped stdin, when stdin is not a terminal)")
    .option('-t, --timeout <ms>', 'run-phase timeout in milliseconds', parseMs)
    .option('--env <KEY=VALUE>', 'environment variable for the program (repeatable)', collect, [])
    .option('--json', 'print the whole result as one JSON document')
    .option('--local', 'run on this machine even when RUNTOOLS_API_URL is set')
    .showHelpAfterError('hint: runtools exec --help')
    .action((source: string, args: string[], options: ExecOptions) => run(() => exec(source, args, options)));
}

async function exec(sourceArg: string, args: string[], options: ExecOptions): Promise<number> {
  const env = parseEnv(options.env);
  const fromStdin = sourceArg === '-';
  const source: Source = fromStdin ? { code: await readStdin() } : readSource(sourceArg, options.entry);
  const stdin = options.stdin ?? (!fromStdin && !process.stdin.isTTY ? await readStdin() : undefined);
  const request: ExecuteRequest = {
    runtime: options.runtime,
    ...source,
    ...(stdin !== undefined ? { stdin } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(Object.keys(env).length ? { env } : {}),
    ...(args.length ? { args } : {}),
  };
  const backend = chooseBackend(options.local ?? false);
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  const stop = spinner(backend.waiting(request));
  let result: ExecuteResult;
  try {
    result = await backend.execute(request, controller.signal);
  } catch (error) {
    if (controller.signal.aborted) return 130;
    throw error;
  } finally {
    stop();
    process.off('SIGINT', interrupt);
  }
  if (controller.signal.aborted) return 130;
  if (options.json) {
    await write(process.stdout, `${JSON.stringify(result, null, 2)}\n`);
  } else {
    await write(process.stdout, result.stdout);
    await write(process.stderr, result.stderr);
    if (result.timedOut) await write(process.stderr, `runtools: the program timed out${options.timeout ? ` after ${options.timeout} ms` : ''} and was killed\n`);
    if (result.truncated) await write(process.stderr, 'runtools: output was truncated at the server\'s limit\n');
  }
  return Math.min(255, Math.max(0, result.exitCode));
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env expects KEY=VALUE, got ${JSON.stringify(pair)}`, 'e.g. --env NAME=Alice');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}
