import bun from './bun.js';
import deno from './deno.js';
import go from './go.js';
import node from './node.js';
import python from './python.js';
import rust from './rust.js';
import type { RuntimeDefinition } from './types.js';

/** Every runtime runtools supports: the only list of them in the codebase. */
export const RUNTIMES = [python, node, bun, deno, go, rust] as const;

export type RuntimeId = (typeof RUNTIMES)[number]['id'];

export const RUNTIME_IDS = RUNTIMES.map((r) => r.id) as [RuntimeId, ...RuntimeId[]];

/** Maps every accepted name (id or alias) to its canonical runtime id. */
export const RUNTIME_NAMES: ReadonlyMap<string, RuntimeId> = new Map(
  RUNTIMES.flatMap((r) => [[r.id, r.id] as const, ...r.aliases.map((a) => [a, r.id] as const)]),
);

/** The runtime definition for a canonical id. */
export function getRuntime(id: RuntimeId): RuntimeDefinition<RuntimeId> {
  return RUNTIMES.find((r) => r.id === id)! as RuntimeDefinition<RuntimeId>;
}

export type { RuntimeDefinition } from './types.js';
