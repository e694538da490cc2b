import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupSupport } from '../../functions/runner/cgroup.js';
import { RUNTIMES, type RuntimeFacts } from '../../functions/runtimes.js';
import type { TestRunner } from '../helpers/runner.js';
import { expectContained, hostileRunner, loopbackService, newTag } from './harness.js';

/*
 * The basic attacks in every runtime of the registry, each in the runtime's own language
 * (functions/runtimes.ts samples): a fork bomb, a memory bomb, an output flood, a connection to a
 * service on the host's loopback, and a program that outlives its timeout. Each ends contained:
 * the right status, nothing left behind, and a normal execution working afterwards.
 */

const withCgroups = cgroupSupport() !== null;

let t: TestRunner;
let service: Awaited<ReturnType<typeof loopbackService>>;

beforeAll(async () => {
  t = await hostileRunner();
  service = await loopbackService('127.0.0.1');
});

afterAll(() => {
  service.close();
  t.dispose();
});

describe.each(RUNTIMES.map((r) => [r.id, r] as const))('%s', (runtime, facts) => {
  const samples = facts.samples;
  const ownLimit = (facts as RuntimeFacts).outOfMemory;
  it.runIf(withCgroups)('a fork bomb hits the process limit and ends with its timeout', async () => {
    const tag = newTag();
    const r = await t.run({ runtime, code: samples.forkBomb, timeout: 3000, args: [tag] });
    expect(['timeout', 'memory_limit', 'runtime_error']).toContain(r.status);
    expect(r.executionTime).toBeLessThan(60_000);
    await expectContained(t, tag);
  });

  // Killed by the cgroup, or, for a runtime held to a limit of its own below the cap (the
  // registry's outOfMemory: the JVM's heap), ended by the runtime's own out-of-memory error.
  it.runIf(withCgroups)(`a memory bomb is stopped by the memory limit${ownLimit ? " (the runtime's own, below the cap)" : ''}`, async () => {
    const tag = newTag();
    const r = await t.run({ runtime, code: samples.memoryBomb, timeout: 20_000, memoryLimitMb: 128, args: [tag] });
    if (ownLimit) {
      expect(r).toMatchObject({ status: 'runtime_error', exitCode: ownLimit.exitCode, timedOut: false });
      expect(r.stderr).toMatch(new RegExp(ownLimit.stderr));
      expect(r.memoryPeak).toBeLessThan(128 * 1024 * 1024);
    } else {
      expect(r).toMatchObject({ status: 'memory_limit', timedOut: false });
    }
    expect(r.memoryPeak).toBeGreaterThan(64 * 1024 * 1024);
    await expectContained(t, tag);
  });

  it('an output flood is cut at the cap and the program killed', async () => {
    const tag = newTag();
    const r = await t.run({ runtime, code: samples.flood, timeout: 20_000, args: [tag] });
    expect(r).toMatchObject({ status: 'output_limit', truncated: true, timedOut: false });
    expect(r.stdout.length).toBe(1024 * 1024);
    await expectContained(t, tag);
  });

  it('cannot connect to a service on the host loopback', async () => {
    const tag = newTag();
    const r = await t.run({ runtime, code: samples.connect, timeout: 20_000, args: [String(service.port), tag] });
    expect(r.stdout).toBe('blocked\n');
    await expectContained(t, tag);
  });

  it('a program that outlives its timeout is killed with its child', async () => {
    const tag = newTag();
    const r = await t.run({ runtime, code: samples.sleeper, timeout: 1500, args: [tag] });
    expect(r).toMatchObject({ status: 'timeout', timedOut: true, signal: 'SIGKILL', exitCode: 137 });
    await expectContained(t, tag);
  });
});
