import path from 'node:path';
import { Argument, type Command } from 'commander';
import { completionScript, SHELLS, type Shell } from '../completion.js';
import { write } from '../io.js';

/** `runtools completion [bash|zsh]`: prints the shell's completion script (default: the login shell's, else bash). */
export function registerCompletion(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('completion')
    .description('print the shell completion script: source <(runtools completion bash), or zsh')
    .addArgument(new Argument('[shell]', 'bash or zsh (default: the one $SHELL names, else bash)').choices(SHELLS))
    .showHelpAfterError('hint: runtools completion --help')
    .action((shell: Shell | undefined) =>
      run(async () => {
        const login = path.basename(process.env.SHELL ?? '');
        await write(process.stdout, completionScript(shell ?? (login === 'zsh' ? 'zsh' : 'bash'), program));
        return 0;
      }),
    );
}
