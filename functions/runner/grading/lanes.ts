import { SandboxFault } from '../../errors.js';
import type { Lane, LaneRun } from '../sandbox/types.js';
import type { ProcessOutcome } from '../supervise.js';

/**
 * The lanes of one suite: a test takes an idle lane or starts one (the suite never runs more
 * tests at once than its share of the server, so never more lanes). A lane that ended is closed
 * and replaced. Where no lane can start, the test's `fallback` runs it in a sandbox of its own.
 */
export class SuiteLanes {
  private readonly idle: Lane[] = [];
  private readonly all = new Set<Lane>();

  constructor(private readonly start: () => Promise<Lane>) {}

  async run(r: LaneRun, fallback: () => Promise<ProcessOutcome>): Promise<ProcessOutcome> {
    let lane: Lane | undefined;
    while ((lane = this.idle.pop()) && !lane.usable) this.drop(lane);
    if (!lane) {
      try {
        lane = await this.start();
      } catch (err) {
        if (err instanceof SandboxFault && err.beforeStart) return fallback();
        throw err;
      }
      this.all.add(lane);
    }
    try {
      return await lane.run(r);
    } finally {
      if (lane.usable) this.idle.push(lane);
      else this.drop(lane);
    }
  }

  async close(): Promise<void> {
    this.idle.length = 0;
    await Promise.all([...this.all].map((l) => l.close()));
    this.all.clear();
  }

  private drop(lane: Lane): void {
    this.all.delete(lane);
    void lane.close();
  }
}
