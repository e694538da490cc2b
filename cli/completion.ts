/**
 * Shell completion scripts for `runtools`, generated from the command line itself (its commands,
 * options, choices and arguments, as commander knows them) and from the runtime registry, so they
 * cannot fall behind either.
 */
import type { Argument, Command, Option } from 'commander';
import { RUNTIMES } from '../functions/runtimes.js';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

/** What an option's value (or an argument) completes to. */
type Values = { kind: 'words'; words: readonly string[] } | { kind: 'files' } | { kind: 'dirs' } | { kind: 'none' };

interface OptionSpec {
  flags: string[];
  description: string;
  /** null: a flag without a value. */
  value: { name: string; values: Values } | null;
  repeatable: boolean;
}

interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Positional arguments in order; the last may be variadic. */
  args: { name: string; values: Values; variadic: boolean }[];
}

/** Every name a request may give a runtime: the ids, then the aliases. */
export function runtimeWords(): string[] {
  return [...RUNTIMES.map((r) => r.id), ...RUNTIMES.flatMap((r) => r.aliases)];
}

function optionValues(option: Option): Values {
  if (option.argChoices) return { kind: 'words', words: option.argChoices };
  if (option.long?.endsWith('runtime')) return { kind: 'words', words: runtimeWords() };
  if (/<dir>|\[dir\]/.test(option.flags)) return { kind: 'dirs' };
  if (/<file>|\[file\]/.test(option.flags)) return { kind: 'files' };
  return { kind: 'none' };
}

function argumentValues(argument: Argument, program: Command, command: Command): Values {
  if (argument.argChoices) return { kind: 'words', words: argument.argChoices };
  // `runtools help <command>`
  if (command.name() === 'help') return { kind: 'words', words: commandsOf(program).map((c) => c.name()).filter((n) => n !== 'help') };
  return { kind: 'files' };
}

function commandsOf(program: Command): Command[] {
  return program.createHelp().visibleCommands(program);
}

function optionSpecs(command: Command): OptionSpec[] {
  return command
    .createHelp()
    .visibleOptions(command)
    .map((option) => ({
      flags: [option.short, option.long].filter((f): f is string => Boolean(f)),
      description: option.description,
      value: option.required || option.optional ? { name: /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1] ?? 'value', values: optionValues(option) } : null,
      repeatable: Array.isArray(option.defaultValue),
    }));
}

/** The command line as data: the top level, then each command. */
export function describeProgram(program: Command): { top: CommandSpec; commands: CommandSpec[] } {
  const commands = commandsOf(program).map((command) => ({
    name: command.name(),
    description: command.description(),
    options: optionSpecs(command),
    args: command.registeredArguments.map((a) => ({ name: a.name(), values: argumentValues(a, program, command), variadic: a.variadic })),
  }));
  return { top: { name: program.name(), description: program.description(), options: optionSpecs(program), args: [] }, commands };
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, program: Command): string {
  return shell === 'bash' ? bashScript(program) : zshScript(program);
}

// bash ---------------------------------------------------------------------------------------

const bashWords = (words: readonly string[]) => words.map((w) => w.replace(/[^\w+.,:@%/=-]/g, '\\$&')).join(' ');

function bashValueCase(options: OptionSpec[]): string[] {
  const lines: string[] = [];
  for (const option of options) {
    if (!option.value) continue;
    const { values } = option.value;
    const action =
      values.kind === 'words'
        ? `COMPREPLY=($(compgen -W "${bashWords(values.words)}" -- "$cur")); return`
        : values.kind === 'dirs'
          ? 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); return'
          : values.kind === 'files'
            ? 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return'
            : 'compopt +o default 2>/dev/null; return';
    lines.push(`        ${option.flags.join('|')}) ${action} ;;`);
  }
  return lines;
}

function bashScript(program: Command): string {
  const { top, commands } = describeProgram(program);
  const name = top.name;
  const fn = `_${name.replace(/\W/g, '_')}_completion`;
  const flagsOf = (options: OptionSpec[]) => bashWords(options.flatMap((o) => o.flags));
  const cases = commands.map((c) => {
    const positional = c.args[0]?.values;
    const flags = flagsOf(c.options);
    // A command without arguments completes to its options; a file argument to files (the default).
    const rest =
      positional === undefined
        ? `compopt +o default 2>/dev/null; COMPREPLY=($(compgen -W "${flags}" -- "$cur"))`
        : positional.kind === 'words'
          ? `COMPREPLY=($(compgen -W "${bashWords(positional.words)}" -- "$cur"))`
          : ':';
    const values = bashValueCase(c.options);
    return [
      `    ${c.name})`,
      ...(values.length ? ['      case "$prev" in', ...values, '      esac'] : []),
      ...(flags ? [`      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${flags}" -- "$cur")); return; fi`] : []),
      `      ${rest}`,
      '      ;;',
    ].join('\n');
  });
  return `# ${name} completion for bash (generated by \`${name} completion bash\`).
# Load it in this shell:   source <(${name} completion bash)
# Or for every shell:      ${name} completion bash > ~/.local/share/bash-completion/completions/${name}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # --option=value: bash splits at the '='.
  if [[ "$cur" == "=" ]]; then cur=""
  elif [[ "$prev" == "=" ]] && (( COMP_CWORD > 1 )); then prev="\${COMP_WORDS[COMP_CWORD-2]}"; fi
  for (( i = 1; i < COMP_CWORD; i++ )); do
    case "\${COMP_WORDS[i]}" in
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  COMPREPLY=()
  # After \`--\` come the program's own arguments: files.
  for (( i++; i < COMP_CWORD; i++ )); do [[ "\${COMP_WORDS[i]}" == "--" ]] && return; done
  case "$cmd" in
    "")
      if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "${flagsOf(top.options)}" -- "$cur"))
      else compopt +o default 2>/dev/null; COMPREPLY=($(compgen -W "${bashWords(commands.map((c) => c.name))}" -- "$cur")); fi
      ;;
${cases.join('\n')}
  esac
}
complete -o default -F ${fn} ${name}
`;
}

// zsh ----------------------------------------------------------------------------------------

/** A single-quoted zsh word. */
const zq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Text inside an _arguments `[description]` or after a `name:` (brackets and colons escaped). */
const zdesc = (s: string) => s.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1').replace(/\s+/g, ' ');

function zshAction(values: Values): string {
  if (values.kind === 'words') return `(${values.words.map((w) => w.replace(/([\\()\s:'"])/g, '\\$1')).join(' ')})`;
  if (values.kind === 'dirs') return '_files -/';
  if (values.kind === 'files') return '_files';
  return ' ';
}

function zshOptionSpecs(options: OptionSpec[]): string[] {
  return options.map((option) => {
    const value = option.value ? `:${zdesc(option.value.name)}:${zshAction(option.value.values)}` : '';
    const rest = zq(`[${zdesc(option.description)}]${value}`);
    // --help and --version end the command line; a repeatable option may come again; -x and --xx are one option.
    const exclusive = option.flags.some((f) => f === '--help' || f === '--version') ? '(- *)' : option.repeatable ? '*' : option.flags.length > 1 ? `(${option.flags.join(' ')})` : '';
    const flags = option.flags.length > 1 ? `{${option.flags.join(',')}}` : option.flags[0]!;
    return `${exclusive ? zq(exclusive) : ''}${flags}${rest}`;
  });
}

function zshScript(program: Command): string {
  const { top, commands } = describeProgram(program);
  const name = top.name;
  const fn = `_${name.replace(/\W/g, '_')}`;
  const indent = (specs: string[], n: number) => specs.map((s) => `${' '.repeat(n)}${s}`).join(' \\\n');
  const cases = commands.map((c) => {
    const args = c.args.map((a, i) => zq(`${a.variadic ? '*' : String(i + 1)}:${zdesc(a.name)}:${zshAction(a.values)}`));
    return `        ${c.name})\n          _arguments -s -S \\\n${indent([...zshOptionSpecs(c.options), ...args], 12)} && ret=0\n          ;;`;
  });
  return `#compdef ${name}
# ${name} completion for zsh (generated by \`${name} completion zsh\`).
# Load it in this shell:   source <(${name} completion zsh)
# Or for every shell:      ${name} completion zsh > "\${fpath[1]}/_${name}"   (then restart zsh)

${fn}() {
  local curcontext="$curcontext" state line ret=1
  local -a commands
  commands=(
${commands.map((c) => `    ${zq(`${c.name}:${c.description.replace(/:/g, '\\:')}`)}`).join('\n')}
  )
  _arguments -C \\
${indent([...zshOptionSpecs(top.options), zq('1: :->command'), zq('*:: :->args')], 4)} && ret=0
  case $state in
    command)
      _describe -t commands ${zq(`${name} command`)} commands && ret=0
      ;;
    args)
      curcontext="\${curcontext%:*:*}:${name}-$words[1]:"
      case $words[1] in
${cases.join('\n')}
      esac
      ;;
  esac
  return ret
}

if [[ "\${funcstack[1]}" == ${fn} ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${name}
fi
`;
}
