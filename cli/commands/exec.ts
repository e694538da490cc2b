import { InvalidArgumentError, type Command } from 'commander';
import { runtimeChoices } from '../../functions/runtimes.js';
import type { ExecuteRequest, ExecuteResult } from '../../functions/contract.js';
import { writeOutputFiles } from '../../sdk/node.js';
import { CliFailure, UsageError } from '../errors.js';
import { readStdin, runInterruptibly, write } from '../io.js';
import { readSource, type Source } from '../source.js';

interface ExecOptions {
  runtime: string;
  entry?: string;
  stdin?: string;
  timeout?: number;
  env: string[];
  json?: boolean;
  stream?: boolean;
  local?: boolean;
  outputs: string[];
  outDir?: string;
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
    .option('--stream', 'print the output as the program writes it (the default when stdout is a terminal)')
    .option('--local', 'run on this machine even when RUNTOOLS_API_URL is set')
    .option('--outputs <glob>', 'bring back the files the program wrote that match (relative to its work directory; repeatable)', collect, [])
    .option('--out-dir <dir>', 'write the files --outputs brought back into this folder')
    .showHelpAfterError('hint: runtools exec --help')
    .action((source: string, args: string[], options: ExecOptions) => run(() => exec(source, args, options)));
}

async function exec(sourceArg: string, args: string[], options: ExecOptions): Promise<number> {
  const env = parseEnv(options.env);
  if (options.outDir !== undefined && options.outputs.length === 0) {
    throw new UsageError('--out-dir writes the files --outputs brings back: give --outputs too', "e.g. --outputs '*.png' --out-dir ./results");
  }
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
    ...(options.outputs.length ? { outputs: options.outputs } : {}),
  };
  const { chooseBackend } = await import('../backend.js');
  const backend = chooseBackend(options.local ?? false);
  // Live output: on a terminal (or with --stream) the program's output is printed as it writes it.
  const streaming = !options.json && (options.stream === true || process.stdout.isTTY === true);
  const live = streaming
    ? { onOutput: (stream: 'stdout' | 'stderr', text: string) => void (stream === 'stdout' ? process.stdout : process.stderr).write(text) }
    : undefined;
  const result = await runInterruptibly(backend, request, live);
  if (!result) return 130;
  if (options.json) {
    await write(process.stdout, `${JSON.stringify(result, null, 2)}\n`);
  } else {
    if (!streaming) {
      await write(process.stdout, result.stdout);
      await write(process.stderr, result.stderr);
    }
    if (result.timedOut) await write(process.stderr, `runtools: the program timed out${options.timeout ? ` after ${options.timeout} ms` : ''} and was killed\n`);
    if (result.truncated) await write(process.stderr, 'runtools: output was truncated at the server\'s limit\n');
  }
  if (options.outputs.length) await reportFiles(result, options);
  return Math.min(255, Math.max(0, result.exitCode));
}

/** The files `--outputs` brought back: written to `--out-dir`, else listed on stderr (unless --json shows them). */
async function reportFiles(result: ExecuteResult, options: ExecOptions): Promise<void> {
  const files = result.files;
  if (files === undefined) {
    // A compile error: the program never ran, so nothing was collected.
    if (!options.json) await write(process.stderr, 'runtools: no files came back: the program did not run\n');
    return;
  }
  const lines: string[] = [];
  if (options.outDir !== undefined) {
    let written: string[];
    try {
      written = await writeOutputFiles(result, options.outDir);
    } catch (error) {
      throw new CliFailure(`could not write the returned files to ${options.outDir}: ${error instanceof Error ? error.message : String(error)}`);
    }
    const withContent = files.filter((f) => f.content !== undefined);
    written.forEach((p, i) => lines.push(`wrote ${p} (${withContent[i]!.size} bytes)`));
    for (const f of files) if (f.content === undefined) lines.push(`runtools: ${f.path} (${f.size} bytes) came back without content: over the server's limit`);
  } else if (!options.json) {
    if (files.length === 0) lines.push('runtools: no files matched --outputs');
    else {
      lines.push(`runtools: ${files.length} file${files.length === 1 ? '' : 's'} returned (--out-dir DIR writes them, --json shows them):`);
      for (const f of files) lines.push(`  ${f.path} (${f.size} bytes${f.content === undefined ? ', without content: over the server\'s limit' : ''})`);
    }
  }
  if (result.filesTruncated && !options.json) lines.push("runtools: more files matched, or their content was left out: the server's limits on returned files were reached");
  if (lines.length) await write(process.stderr, `${lines.join('\n')}\n`);
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
