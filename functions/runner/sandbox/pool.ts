import { createWorkspace, removeWorkspace, type Workspace } from '../workspace.js';
import type { StartedInterpreter, PoolOptions } from './types.js';

/** A sandbox built ahead of a request, waiting: in the launcher, or in an interpreter started ahead. */
export interface PreparedSandbox {
  ws: Workspace;
  /** The interpreter waiting in it, or null for the launcher. */
  interpreter: StartedInterpreter | null;
  /** False once it died while waiting. */
  alive(): boolean;
}

/** How a sandbox builds and stops the prepared sandboxes the pool keeps. */
export interface PoolBuilder<P extends PreparedSandbox> {
  build(options: PoolOptions, interpreter: StartedInterpreter | null): Promise<P>;
  /** Stops it (and removes its workspace unless `removeWorkspace` is false). */
  discard(prepared: P, removeWorkspace?: boolean): Promise<void>;
}

/**
 * Sandboxes prepared ahead of requests, each used for exactly one execution, then destroyed, and
 * refilled after it: of the kind the last request asked for (its runtime's interpreter waiting, or
 * the launcher), so the pool follows what requests ask for.
 */
export class SandboxPool<P extends PreparedSandbox> {
  private waiting: P[] = [];
  /** Taken by an execution in flight, until it runs or is released. */
  private readonly taken = new Map<string, P>();
  /** What each execution in flight asked for: an interpreter's runtime, or null for the launcher. */
  private readonly wanted = new Map<string, string | null>();
  private options: PoolOptions | null = null;
  /** Sandboxes being built (close() waits for them). */
  private readonly building = new Set<Promise<void>>();
  private closed = false;
  /** Executions that ran in an interpreter started ahead of them. */
  interpreterStarts = 0;

  constructor(private readonly builder: PoolBuilder<P>) {}

  /** Keeps `options.size` sandboxes prepared from now on. */
  keep(options: PoolOptions): void {
    if (options.size <= 0) return;
    this.options = options;
    this.refill(null);
  }

  /** Prepared sandboxes waiting, by what waits in them: a runtime's interpreter, or `launcher`. */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const p of this.waiting) {
      const kind = p.interpreter?.runtime ?? 'launcher';
      counts[kind] = (counts[kind] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * A prepared sandbox of the kind asked for (`runtime`'s interpreter waiting, else the launcher),
   * as the execution's workspace, or a new workspace. When none of that kind is ready, one of
   * another kind makes room.
   */
  async workspace(workRoot: string, runtime?: string): Promise<Workspace> {
    this.waiting = this.waiting.filter((p) => {
      const usable = p.alive() && p.ws.root.startsWith(workRoot);
      if (!usable) void this.builder.discard(p);
      return usable;
    });
    const want = runtime !== undefined && this.options?.interpreters.some((i) => i.runtime === runtime) ? runtime : null;
    let i = this.waiting.findIndex((p) => (p.interpreter?.runtime ?? null) === want);
    if (i < 0) i = this.waiting.findIndex((p) => p.interpreter === null);
    let ws: Workspace;
    if (i >= 0) {
      const [p] = this.waiting.splice(i, 1);
      this.taken.set(p!.ws.id, p!);
      ws = p!.ws;
    } else {
      if (this.waiting.length > 0) void this.builder.discard(this.waiting.shift()!);
      ws = await createWorkspace(workRoot);
    }
    this.wanted.set(ws.id, want);
    return ws;
  }

  /** The prepared sandbox of this execution, if it has one and `fits` says it can run this phase. */
  claim(id: string, fits: (p: P) => boolean): P | undefined {
    const p = this.taken.get(id);
    if (!p || !fits(p)) return undefined;
    this.taken.delete(id);
    if (p.interpreter) this.interpreterStarts++;
    return p;
  }

  /** After an execution: stops its prepared sandbox if it went unused, removes its workspace, refills. */
  async release(ws: Workspace): Promise<void> {
    const unused = this.taken.get(ws.id);
    if (unused) {
      this.taken.delete(ws.id);
      await this.builder.discard(unused, false);
    }
    await removeWorkspace(ws);
    const want = this.wanted.get(ws.id) ?? null;
    this.wanted.delete(ws.id);
    // Refill after the execution, not during it: preparing a sandbox competes for the same cores.
    this.refill(want);
  }

  /** Stops every prepared sandbox and waits for those being built. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.waiting, ...this.taken.values()];
    this.waiting = [];
    this.taken.clear();
    await Promise.all([...all.map((p) => this.builder.discard(p)), ...this.building]);
  }

  /** Tops the pool up with sandboxes of one kind: `runtime`'s interpreter waiting, or the launcher. */
  private refill(runtime: string | null): void {
    const o = this.options;
    if (!o || this.closed) return;
    const interpreter = o.interpreters.find((i) => i.runtime === runtime) ?? null;
    while (this.waiting.length + this.building.size < o.size) {
      const building: Promise<void> = this.builder
        .build(o, interpreter)
        .then((p) => {
          if (this.closed) return this.builder.discard(p);
          this.waiting.push(p);
        })
        .catch(() => {
          /* a sandbox that cannot be prepared is built per request instead */
        })
        .finally(() => this.building.delete(building));
      this.building.add(building);
    }
  }
}
