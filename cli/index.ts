import { Command, CommanderError } from 'commander';
import { runtimeNames } from '../functions/runtimes.js';
import { registerCompletion } from './commands/completion.js';
import { registerExec } from './commands/exec.js';
import { registerMcp } from './commands/mcp.js';
import { registerRuntimes } from './commands/runtimes.js';
import { registerServe } from './commands/serve.js';
import { registerTest } from './commands/test.js';
import { CliFailure, EXIT_FAILURE, EXIT_USAGE, UsageError } from './errors.js';

const VERSION = '0.1.0';

/** Runs a command body and exits with its status; failures become one line on stderr, never a stack trace. */
async function run(action: () => Promise<number>): Promise<void> {
  let code: number;
  try {
    code = await action();
  } catch (error) {
    code = report(error);
  }
  process.exit(code);
}

function report(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`runtools: ${error.message}\nhint: ${error.hint ?? 'runtools --help'}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof CliFailure) {
    process.stderr.write(`runtools: ${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`runtools: ${message}\n`);
  return EXIT_FAILURE;
}

/**
 * Builds the `runtools` command line. The commands load the runner, the API and their dependencies
 * when they run (dynamic imports), so start-up and `--help` stay fast.
 */
export function createProgram(): Command {
  const program = new Command('runtools')
    .description(`Run ${runtimeNames()} code in isolated sandboxes, locally or through a runtools API.`)
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`runtools: ${text.replace(/^error: /, '')}`) })
    .showHelpAfterError('hint: runtools --help');
  registerExec(program, run);
  registerTest(program, run);
  registerRuntimes(program, run);
  registerServe(program);
  registerMcp(program, run);
  registerCompletion(program, run);
  return program;
}

/** The CLI entry: parses argv and runs the command (bad usage exits 2). */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    process.exit(report(error));
  }
}
