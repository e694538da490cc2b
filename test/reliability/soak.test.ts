/**
 * Memory stays flat under load: 2,000 executions through the real server process, its resident
 * set sampled as they go. Leaks (a listener, a timer, a stored result per execution) show as growth.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { call, dataDir, startServerProcess, type ServerProcess } from './helpers.js';

const TOTAL = 2000;
const CLIENTS = 4;
let server: ServerProcess | undefined;
afterAll(() => server?.kill());

const rssMb = (pid: number) => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('2,000 executions', () => {
  it('leave the server’s memory flat', async () => {
    // A bounded old space makes V8 collect instead of growing its heap at will (which alone moves
    // the resident set by 30 MB from run to run): what is left to grow is what is really kept.
    server = await startServerProcess({ RUNTOOLS_DATA_DIR: dataDir(), RUNTOOLS_CONCURRENCY: '2', NODE_OPTIONS: '--max-old-space-size=64' });
    const samples: number[] = [];
    let next = 0;
    const failures: string[] = [];
    const client = async () => {
      while (next < TOTAL) {
        const n = next++;
        const res = await call<{ stdout: string }>(`${server!.url}/v1/execute`, { body: { runtime: 'bash', code: `echo $((${n} * 2))` } });
        if (res.status !== 200 || res.body.stdout !== `${n * 2}\n`) failures.push(`#${n}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
        if (n % 100 === 0) samples.push(rssMb(server!.pid));
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, client));
    samples.push(rssMb(server.pid));
    expect(failures).toEqual([]);
    // After the warm-up (JIT, pools, caches) the resident set stays within a band.
    const warm = Math.max(...samples.slice(3, 6));
    const last = samples.at(-1)!;
    console.log(`server RSS over ${TOTAL} executions (MiB, every 100): ${samples.map((s) => s.toFixed(0)).join(' ')}`);
    expect(last - warm).toBeLessThan(24);
    expect(last).toBeLessThan(200);
    server.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 300_000);
});
