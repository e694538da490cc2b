import { randomBytes } from 'node:crypto';
import { RUNTIMES } from '../../functions/runtimes.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../functions/api/app.js';
import { startServer, type RunningServer } from '../../functions/api/server.js';
import type { ExecuteResult } from '../../functions/contract.js';
import type { TestRunner } from '../helpers/runner.js';
import { processesMatching } from '../helpers/runner.js';
import { hostileRunner, newTag } from './harness.js';

/*
 * A bounded load test against the local server on loopback: a fixed number of executions across
 * every runtime, some hostile, from many concurrent clients against a server with few execution
 * slots and a short queue, so 429s happen. Every accepted execution must return its own correct
 * result; no 5xx; every 429 carries Retry-After and succeeds when retried; the server's memory
 * stays bounded. It stops by itself (fixed count, overall deadline).
 */

const TOTAL = Number(process.env.RUNTOOLS_LOAD_TOTAL ?? 500);
const CLIENTS = 16;
const DEADLINE_MS = 240_000;
/** Longest wait honoured from Retry-After, so the test stays bounded; the header itself is checked. */
const MAX_WAIT_S = 3;

interface Job {
  body: Record<string, unknown>;
  check(r: ExecuteResult): void;
}

function job(i: number): Job {
  const nonce = `${i}-${randomBytes(4).toString('hex')}`;
  const kind = i % 20;
  const expectOut = (out: string) => (r: ExecuteResult) => {
    expect(r.stdout, r.stderr).toBe(out);
    expect(r.exitCode).toBe(0);
  };
  if (kind === 7) {
    const tag = newTag();
    return {
      body: { runtime: 'python', args: [tag], timeout: 2000, code: 'import subprocess, sys\nsubprocess.Popen(["sleep", sys.argv[-1]], start_new_session=True)\nwhile True:\n    sys.stdout.write("x" * 65536)' },
      check: (r) => {
        expect(r.truncated).toBe(true);
        expect(processesMatching(tag)).toEqual([]);
      },
    };
  }
  if (kind === 17) {
    const bomb = 'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass';
    return { body: { runtime: 'python', timeout: 2000, code: bomb }, check: (r) => expect(r.timedOut || r.signal === 'SIGKILL').toBe(true) };
  }
  if (kind === 13) {
    return { body: { runtime: 'node', timeout: 500, code: 'for (;;) {}' }, check: (r) => expect(r.timedOut).toBe(true) };
  }
  if (kind % 5 === 0) {
    return { body: { runtime: 'python', code: `import sys\nprint(sys.stdin.read().upper(), "${nonce}")`, stdin: 'abc' }, check: expectOut(`ABC ${nonce}\n`) };
  }
  if (kind % 5 === 1) {
    return { body: { runtime: 'node', code: `console.log(process.argv[2], "${nonce}")`, args: ['arg'] }, check: expectOut(`arg ${nonce}\n`) };
  }
  // Every runtime of the registry in turn: its hello world, made new by a comment (no build cache hit).
  const rt = RUNTIMES[i % RUNTIMES.length]!;
  return { body: { runtime: rt.id, code: `${rt.hello}${rt.lineComment} ${nonce}\n` }, check: expectOut('hello\n') };
}

let t: TestRunner;
let server: RunningServer;

beforeAll(async () => {
  t = await hostileRunner();
  server = await startServer({
    config: { host: '127.0.0.1', port: 0, concurrency: 2, queueSize: 6 },
    log: silentLogger,
    runner: t.runner,
  });
});

afterAll(async () => {
  await server.close();
  t.dispose();
});

describe('load', () => {
  it(`${TOTAL} executions across all runtimes from ${CLIENTS} clients`, async () => {
    const stats = { completed: 0, rateLimited: 0, serverErrors: 0, maxRssMb: 0 };
    const baseRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      stats.maxRssMb = Math.max(stats.maxRssMb, Math.round((process.memoryUsage().rss - baseRss) / 2 ** 20));
    }, 250);
    const deadline = AbortSignal.timeout(DEADLINE_MS);
    let next = 0;
    const failures: string[] = [];

    const client = async () => {
      while (next < TOTAL && !deadline.aborted) {
        const i = next++;
        const { body, check } = job(i);
        for (;;) {
          const sent = Date.now();
          let res: Response;
          try {
            res = await fetch(`${server.url}/v1/execute`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(body),
              signal: deadline,
            });
          } catch (err) {
            const cause = (err as { cause?: { code?: string; message?: string } }).cause;
            failures.push(`#${i} ${body.runtime}: ${(err as Error).message} (${cause?.code ?? cause?.message}) after ${Date.now() - sent} ms`);
            break;
          }
          if (res.status === 429) {
            stats.rateLimited++;
            const retryAfter = Number(res.headers.get('retry-after'));
            if (!(retryAfter > 0)) failures.push(`429 without Retry-After for #${i}`);
            await res.arrayBuffer();
            await new Promise((r) => setTimeout(r, Math.min(retryAfter || 1, MAX_WAIT_S) * 1000));
            continue;
          }
          if (res.status >= 500) stats.serverErrors++;
          if (res.status !== 200) {
            failures.push(`#${i} ${body.runtime}: ${res.status} ${(await res.text()).slice(0, 200)}`);
            break;
          }
          try {
            check((await res.json()) as ExecuteResult);
            stats.completed++;
          } catch (err) {
            failures.push(`#${i} ${body.runtime}: ${(err as Error).message.slice(0, 300)}`);
          }
          break;
        }
      }
    };

    try {
      await Promise.all(Array.from({ length: CLIENTS }, client));
    } finally {
      clearInterval(sampler);
    }
    console.log(`load: ${JSON.stringify(stats)}`);
    expect(failures).toEqual([]);
    expect(deadline.aborted).toBe(false);
    expect(stats.serverErrors).toBe(0);
    expect(stats.completed).toBe(TOTAL);
    expect(stats.rateLimited).toBeGreaterThan(0);
    expect(stats.maxRssMb).toBeLessThan(400);
    expect(await t.leftovers()).toEqual([]);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
  }, DEADLINE_MS + 30_000);
});
