import { RUNTIMES as FACTS, type CommandTemplate, type RuntimeFacts, type RuntimeId } from '../../runtimes.js';
import type { Command, CommandContext, RuntimeDefinition, RuntimeHost } from './types.js';

/** Fills a registry template (functions/runtimes.ts lists the placeholders) for one execution. */
export function fromTemplate(template: CommandTemplate, facts: RuntimeFacts, ctx: CommandContext & { binary?: string }): Command {
  const one: Record<string, string | undefined> = {
    tool: ctx.tool.bin,
    toolRoot: ctx.tool.root,
    entry: ctx.entry,
    out: ctx.outDir,
    tmp: ctx.tmpDir,
    binary: ctx.binary,
  };
  const many: Record<string, readonly string[]> = {
    args: ctx.args,
    sources: ctx.files.filter((f) => facts.extensions.some((ext) => f.endsWith(ext))),
  };
  const fill = (s: string) =>
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
  return env ? { argv, env } : { argv };
}

/** A runtime's facts and host side, with its commands from the host file, else from the registry's templates. */
function assemble(facts: RuntimeFacts & { id: RuntimeId }, host: RuntimeHost): RuntimeDefinition {
  const run = host.run ?? (facts.run && ((ctx: CommandContext & { binary?: string }) => fromTemplate(facts.run!, facts, ctx)));
  if (!run) throw new Error(`runtime ${facts.id}: neither its registry entry nor functions/runner/runtimes/${facts.id}.ts says how to run it`);
  const compile = host.compile ?? (facts.compile && ((ctx: CommandContext) => fromTemplate(facts.compile!, facts, ctx)));
  if (facts.compiled !== (compile !== undefined)) throw new Error(`runtime ${facts.id}: compiled is ${facts.compiled} but a compile command is ${compile ? '' : 'not '}given`);
  return { ...facts, ...host, run, compile } as RuntimeDefinition;
}

// Each runtime's host side is the file named by its id: the registry is the only list.
const hosts = await Promise.all(FACTS.map(async (f) => ((await import(`./${f.id}.ts`)) as { default: RuntimeHost }).default));

/** Every runtime, as the runner uses it, in the registry's order. */
export const RUNTIMES: readonly RuntimeDefinition[] = FACTS.map((facts, i) => assemble(facts, hosts[i]!));

/** A runtime's toolchain on this host: the registry's variable names it, else its host file searches. */
export function findToolchain(rt: RuntimeDefinition) {
  return rt.locate(process.env[rt.toolVariable] || undefined);
}

/** The runtime definition for a canonical id. */
export function getRuntime(id: RuntimeId): RuntimeDefinition {
  return RUNTIMES.find((r) => r.id === id)!;
}

export { RUNTIME_IDS, RUNTIME_NAMES, type RuntimeId } from '../../runtimes.js';
export type { RuntimeDefinition } from './types.js';
