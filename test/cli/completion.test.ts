import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIMES } from '../../functions/runtimes.js';
import { createProgram } from '../../cli/index.js';
import { runCli } from './helpers.js';

const RUNTIME_NAMES = [...RUNTIMES.map((r) => r.id), ...RUNTIMES.flatMap((r) => r.aliases)];
const COMMANDS = ['exec', 'test', 'runtimes', 'serve', 'mcp', 'completion'];

let dir: string;
let bash: string;
let zsh: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'runtools-completion-'));
  const [b, z] = await Promise.all([runCli(['completion', 'bash']), runCli(['completion', 'zsh'])]);
  expect(b.code).toBe(0);
  expect(z.code).toBe(0);
  bash = b.stdout;
  zsh = z.stdout;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * What bash offers for a command line (the last word is the one being completed): the script
 * sourced in a fresh bash, its completion function called as `complete -F` would.
 */
function bashComplete(...words: string[]): string[] {
  const script = path.join(dir, 'runtools.bash');
  writeFileSync(script, bash);
  const fn = /complete -o default -F (\S+) runtools/.exec(bash)![1]!;
  const out = execFileSync(
    'bash',
    ['-c', `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=(); ${fn} 2>/dev/null; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script, 'runtools', ...words],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

describe('runtools completion', () => {
  it('bash: the script registers a completion for runtools', () => {
    const script = path.join(dir, 'registered.bash');
    writeFileSync(script, bash);
    const out = execFileSync('bash', ['-c', 'source "$1" && complete -p runtools', 'bash', script], { encoding: 'utf8' });
    expect(out).toMatch(/^complete -o default -F \w+ runtools$/m);
  });

  it('bash: commands, options, runtimes and choices', () => {
    expect(bashComplete('')).toEqual([...COMMANDS, 'help']);
    expect(bashComplete('co')).toEqual(['completion']);
    expect(bashComplete('--v')).toEqual(['--version']);
    expect(bashComplete('exec', '--runtime', '')).toEqual(RUNTIME_NAMES);
    expect(bashComplete('exec', '-r', 'py')).toEqual(['python', 'py', 'python3']);
    // --runtime=… (bash splits the word at the '=')
    expect(bashComplete('exec', '--runtime', '=')).toEqual(RUNTIME_NAMES);
    expect(bashComplete('exec', '--runtime', '=', 'go')).toEqual(['go', 'golang']);
    expect(bashComplete('exec', '--ru')).toEqual(['--runtime']);
    expect(bashComplete('exec', '--out')).toEqual(['--outputs', '--out-dir']);
    expect(bashComplete('test', '--compare', '')).toEqual(['exact', 'lines', 'tokens', 'float']);
    expect(bashComplete('test', '--checker-runtime', 'g')).toEqual(['go', 'golang']);
    expect(bashComplete('test', '--st')).toEqual(['--stop-on-failure']);
    expect(bashComplete('serve', '--')).toEqual(['--host', '--port', '--help']);
    expect(bashComplete('runtimes', '')).toEqual(['--json', '--local', '-h', '--help']);
    expect(bashComplete('completion', '')).toEqual(['bash', 'zsh']);
    expect(bashComplete('help', 'r')).toEqual(['runtimes']);
    // After -- the words are the program's: left to file completion.
    expect(bashComplete('exec', '-r', 'python', 'main.py', '--', '--j')).toEqual([]);
  });

  it('bash and zsh: every command and option of the CLI is in the script', () => {
    const program = createProgram();
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(COMMANDS);
    for (const command of program.commands) {
      const flags = command.options.flatMap((o) => [o.short, o.long].filter((f): f is string => Boolean(f)));
      expect(bashComplete(command.name(), '-'), command.name()).toEqual(expect.arrayContaining([...flags, '--help']));
      const zshCase = zsh.slice(zsh.indexOf(`        ${command.name()})\n`), zsh.indexOf('          ;;', zsh.indexOf(`        ${command.name()})\n`)));
      for (const flag of flags) expect(zshCase, `${command.name()} ${flag}`).toMatch(new RegExp(`(^|[\\s{,'(])${flag}([,}]|'\\[)`, 'm'));
    }
  });

  it('zsh: the script parses, and registers itself when sourced or autoloaded', () => {
    const fpathDir = path.join(dir, 'zfunc');
    execFileSync('mkdir', ['-p', fpathDir]);
    writeFileSync(path.join(fpathDir, '_runtools'), zsh);
    execFileSync('zsh', ['-n', path.join(fpathDir, '_runtools')]);
    expect(zsh.split('\n')[0]).toBe('#compdef runtools');
    const sourced = execFileSync('zsh', ['-f', '-c', 'autoload -U compinit && compinit -u -D && source "$1" && print -r -- $_comps[runtools]', 'zsh', path.join(fpathDir, '_runtools')], { encoding: 'utf8' });
    expect(sourced.trim()).toBe('_runtools');
    const autoloaded = execFileSync('zsh', ['-f', '-c', 'fpath=("$1" $fpath) && autoload -U compinit && compinit -u -D && print -r -- $_comps[runtools]', 'zsh', fpathDir], { encoding: 'utf8' });
    expect(autoloaded.trim()).toBe('_runtools');
  });

  it('zsh: completes runtimes, commands and choices at a prompt', () => {
    const fpathDir = path.join(dir, 'zfunc-live');
    execFileSync('mkdir', ['-p', fpathDir]);
    writeFileSync(path.join(fpathDir, '_runtools'), zsh);
    // An interactive zsh in a pseudo-terminal (zsh/zpty): type a line and Tab, read the listing.
    const driver = path.join(dir, 'drive.zsh');
    writeFileSync(
      driver,
      `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z 'PS1="> "; LINES=200; COLUMNS=200; fpath=("${fpathDir}" $fpath); autoload -U compinit; compinit -u -D; setopt nobeep; print READY'
zpty -r z line '*READY*'
zpty -w -n z "$1"$'\\t'
out=""
settle=0
for i in {1..100}; do
  chunk=""
  if zpty -r -t z chunk; then out+=$chunk; settle=0; else (( settle++ )); fi
  # Done once the expected word has come and nothing more for half a second.
  [[ "$out" == *"$2"* ]] && (( settle >= 5 )) && break
  sleep 0.1
done
print -r -- "$out"
zpty -d z
`,
    );
    const listing = (line: string, last: string) =>
      execFileSync('zsh', ['-f', driver, line, last], { encoding: 'utf8', timeout: 30_000 }).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    const runtimes = listing('runtools exec --runtime p', 'python3');
    for (const name of ['php', 'py', 'python', 'python3']) expect(runtimes).toMatch(new RegExp(`(^|\\s)${name}(\\s|$)`, 'm'));
    expect(listing('runtools test --compare ', 'tokens')).toMatch(/exact\s+float\s+lines\s+tokens/);
    const commands = listing('runtools ', 'runtimes');
    for (const command of COMMANDS) expect(commands).toContain(command);
  });

  it('picks the shell from $SHELL without an argument, and refuses another shell (exit 2)', async () => {
    expect((await runCli(['completion'], { env: { SHELL: '/usr/bin/zsh' } })).stdout).toBe(zsh);
    expect((await runCli(['completion'], { env: { SHELL: '/bin/bash' } })).stdout).toBe(bash);
    expect((await runCli(['completion'], { env: { SHELL: '/usr/bin/fish' } })).stdout).toBe(bash);
    const fish = await runCli(['completion', 'fish']);
    expect(fish.code).toBe(2);
    expect(fish.stdout).toBe('');
    expect(fish.stderr).toMatch(/^runtools: .*fish.*\nhint: /);
  });
});
