import type { Command } from 'commander';
import type { RuntimeInfo } from '../../functions/contract.js';
import { spinner, write } from '../io.js';

/** `runtools runtimes`: the runtimes, their versions and whether they are installed. */
export function registerRuntimes(program: Command, run: (action: () => Promise<number>) => Promise<void>): void {
  program
    .command('runtimes')
    .description('list the runtimes, their versions and whether they are available')
    .option('--json', 'print {"runtimes": [...]} as JSON')
    .option('--local', 'ask this machine even when RUNTOOLS_API_URL is set')
    .showHelpAfterError('hint: runtools runtimes --help')
    .action((options: { json?: boolean; local?: boolean }) =>
      run(async () => {
        const { chooseBackend } = await import('../backend.js');
        const backend = chooseBackend(options.local ?? false);
        const stop = spinner(backend.waiting());
        let runtimes: RuntimeInfo[];
        try {
          runtimes = await backend.runtimes();
        } finally {
          stop();
        }
        if (options.json) {
          await write(process.stdout, `${JSON.stringify({ runtimes }, null, 2)}\n`);
          return 0;
        }
        const rows = [
          ['RUNTIME', 'VERSION', 'AVAILABLE', 'ENTRY', 'ALIASES'],
          ...runtimes.map((r) => [r.runtime, r.version ?? '-', r.available ? 'yes' : 'no', r.entrypoint, r.aliases.join(', ')]),
        ];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
        const text = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
        await write(process.stdout, `${text}\n`);
        return 0;
      }),
    );
}
