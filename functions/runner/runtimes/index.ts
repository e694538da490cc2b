import { RUNTIMES as FACTS, argvPath, sourceFiles, type CommandTemplate, type RuntimeFacts, type RuntimeId } from '../../runtimes.js';
import type { Command, CommandContext, RuntimeDefinition, RuntimeHost, Toolchain } from './types.js';

/** Fills a registry template (functions/runtimes.ts lists the placeholders) for one execution. */
function fromTemplate(template: CommandTemplate, facts: RuntimeFacts, ctx: CommandContext & { binary?: string }): Command {
  const { argv, env } = fill(template, facts, ctx);
  return env ? { argv, env } : { argv };
}

function fill(template: CommandTemplate & { artifact?: string }, facts: RuntimeFacts, ctx: CommandContext & { binary?: string }) {
  const one: Record<string, string | undefined> = {
    tool: ctx.tool.bin,
    toolRoot: ctx.tool.root,
    entry: argvPath(ctx.entry),
    out: ctx.outDir,
    tmp: ctx.tmpDir,
    binary: ctx.binary,
    memoryMiB: String(Math.floor(ctx.memoryBytes / (1024 * 1024))),
  };
  const many: Record<string, readonly string[]> = {
    args: ctx.args,
    sources: sourceFiles(facts, ctx.files).map(argvPath),
  };
  const fill = (s: string): string =>
    s.replace(/\{(\w+)\}/g, (whole, name: string) => {
      const value = one[name];
      if (value === undefined) throw new Error(`${facts.id}: template placeholder ${whole} has no value here`);
      return value;
    });
  const argv = template.argv.flatMap((arg) => {
    const list = /^\{(\w+)\}$/.exec(arg)?.[1];
    return list && list in many ? [...many[list]!] : [fill(arg)];
  });
  const env = template.env ? Object.fromEntries(Object.entries(template.env).map(([k, v]) => [k, fill(v)])) : undefined;
  return { argv, env, artifact: template.artifact === undefined ? undefined : fill(template.artifact) };
}

/** A runtime's facts and host side, with its commands from the host file, else from the registry's templates. */
function assemble(facts: RuntimeFacts & { id: RuntimeId }, host: RuntimeHost): RuntimeDefinition {
  const run = host.run ?? (facts.run && ((ctx: CommandContext & { binary?: string }) => fromTemplate(facts.run!, facts, ctx)));
  if (!run) throw new Error(`runtime ${facts.id}: neither its registry entry nor functions/runner/runtimes/${facts.id}.ts says how to run it`);
  const compile = host.compile ?? (facts.compile && ((ctx: CommandContext) => fromTemplate(facts.compile!, facts, ctx)));
  if (facts.compiled !== (compile !== undefined)) throw new Error(`runtime ${facts.id}: compiled is ${facts.compiled} but a compile command is ${compile ? '' : 'not '}given`);
  // The registry's artifact, unless the host file reads the binary from the compiler's output.
  const compiledBinary =
    host.compiledBinary ??
    (facts.compile && ((ctx: CommandContext, stdout: string) => ({ binary: fill(facts.compile!, facts, ctx).artifact!, stdout })));
  return { ...facts, ...host, run, compile, compiledBinary } as RuntimeDefinition;
}

// Each runtime's host side is the file named by its id: the registry is the only list.
const hosts = await Promise.all(FACTS.map(async (f) => ((await import(`./${f.id}.ts`)) as { default: RuntimeHost }).default));

/** Every runtime, as the runner uses it, in the registry's order. */
export const RUNTIMES: readonly RuntimeDefinition[] = FACTS.map((facts, i) => assemble(facts, hosts[i]!));

/**
 * A runtime's toolchain on this host: the registry's variable names it, else its host file
 * searches; with the host paths the registry says it reads besides (its sandbox binds).
 */
export async function findToolchain(rt: RuntimeDefinition): Promise<Toolchain | null> {
  const tool = await rt.locate(process.env[rt.toolVariable] || undefined);
  return tool && rt.sandbox?.binds ? { ...tool, binds: rt.sandbox.binds } : tool;
}

/** The runtime definition for a canonical id. */
export function getRuntime(id: RuntimeId): RuntimeDefinition {
  return RUNTIMES.find((r) => r.id === id)!;
}

export { RUNTIME_IDS, RUNTIME_NAMES, type RuntimeId } from '../../runtimes.js';
export type { RuntimeDefinition } from './types.js';
