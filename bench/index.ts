/**
 * `npm run bench`: latency and throughput of runtools next to the floor (the toolchain run
 * directly on this host), in one run so machine noise cancels out in the ratios.
 * Prints a markdown table and writes bench/results/latest.json.
 *   BENCH_RUNS=30 BENCH_COMPILED_RUNS=10 npm run bench
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ExecuteRequestSchema, type ExecuteRequest, type RuntimeId } from '../functions/contract.js';
import { runtimeFacts } from '../functions/runtimes.js';
import { createRunner } from '../functions/runner/index.js';
import { Floor } from './floor.js';
import { filterCost } from './seccomp.js';
import { readEvents } from '../sdk/sse.js';
import { measure, round, throughput, time, type Timing } from './stats.js';
import { buildCliBundle, currentBundle } from '../bin/cli-bundle.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const COMPILED_RUNS = Number(process.env.BENCH_COMPILED_RUNS ?? 10);
const OUT = path.join(import.meta.dirname, 'results/latest.json');
/** Suites per test-suite row, and tests per suite (issue: "a Go program with 50 test cases"). */
const SUITE_RUNS = Number(process.env.BENCH_SUITE_RUNS ?? 5);
const SUITE_TESTS = 50;

const compiled = (runtime: RuntimeId) => runtimeFacts(runtime).compiled;
/** A comment line that makes a program new to every build cache without changing what it does. */
const comment = (runtime: RuntimeId, n: string) => `${runtimeFacts(runtime).lineComment} ${n}\n`;
const NUMPY = 'import numpy as np\n\narr = np.array([1, 2, 3, 4, 5])\nprint(f"Sum: {arr.sum()}")\nprint(f"Mean: {arr.mean()}")\nprint(f"Std: {arr.std():.2f}")\n';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Starts the local server as its own process (so its memory can be read) and waits for /health. */
async function startServer(): Promise<{ url: string; child: ChildProcess; rssMb(): number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/api/server.ts'], {
    // Its own data directory: a server started with `npm start` keeps the default one.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', RUNTOOLS_QUEUE_SIZE: '1000', RUNTOOLS_LOG_LEVEL: 'error', RUNTOOLS_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'runtools-bench-')) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error('the server exited during start-up');
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    rssMb: () => round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024),
    stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }),
  };
}

async function main() {
  // Configured as the local server is by default: a pool of concurrency + 1 prepared sandboxes.
  const runner = await createRunner({ poolSize: os.cpus().length + 1 });
  const infos = await runner.runtimes();
  const available = infos.filter((i) => i.available).map((i) => i.runtime);
  const floor = new Floor();
  const server = await startServer();
  const http = async (req: ExecuteRequest) => {
    const res = await fetch(`${server.url}/v1/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
    const body = (await res.json()) as { exitCode?: number; stderr?: string };
    if (res.status !== 200 || body.exitCode !== 0) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  };
  const direct = async (req: ExecuteRequest) => {
    const r = await runner.execute(ExecuteRequestSchema.parse(req));
    if (r.exitCode !== 0) throw new Error(`runner: ${r.stderr.slice(0, 300)}`);
  };
  const rssIdle = server.rssMb();

  const latency: Array<{ name: string; floor: Timing; runner: Timing; http: Timing }> = [];
  for (const runtime of available) {
    const { entrypoint: entry, hello: code } = runtimeFacts(runtime);
    const host = floor.prepare(runtime, (await runner.locate(runtime))!.tool, { [entry]: code }, entry);
    const runs = compiled(runtime) ? COMPILED_RUNS : RUNS;
    const req: ExecuteRequest = { runtime, code };
    // Each compiled run gets a new program (on the floor too), so no build cache can skip the compile.
    const nonce = (i: number) => `${Date.now()}-${i}-${Math.random()}`;
    const fresh = (i: number): ExecuteRequest => (compiled(runtime) ? { runtime, code: code + comment(runtime, nonce(i)) } : req);
    const floorT = await time(async (i) => {
      if (host.compile) host.write(entry, code + comment(runtime, nonce(i)));
      await host.compile?.();
      await host.run();
    }, runs);
    if (host.compile) host.write(entry, code);
    latency.push({ name: `${runtime} hello`, floor: floorT, runner: await time((i) => direct(fresh(i)), runs), http: await time((i) => http(fresh(i)), runs) });
    if (compiled(runtime)) {
      await host.compile!();
      const binary = await time(() => host.run(), RUNS);
      latency.push({ name: `${runtime} repeat (identical program)`, floor: binary, runner: await time(() => direct(req), RUNS), http: await time(() => http(req), RUNS) });
    }
  }
  if (available.includes('python')) {
    const host = floor.prepare('python', (await runner.locate('python'))!.tool, { 'main.py': NUMPY }, 'main.py');
    const req: ExecuteRequest = { runtime: 'python', code: NUMPY };
    latency.push({ name: 'python numpy example', floor: await time(() => host.run(), RUNS), runner: await time(() => direct(req), RUNS), http: await time(() => http(req), RUNS) });
  }

  // Test suites: one request of 50 tests (one compile, each test in a lane, two at a time on two
  // cores) against the floor: one compile, then 50 runs of the binary (or python3) two at a time.
  const suites: Array<{ name: string; floor: Timing; http: Timing }> = [];
  for (const runtime of (['go', 'python'] as const).filter((r) => available.includes(r))) {
    const { entrypoint: entry } = runtimeFacts(runtime);
    const code = runtime === 'go' ? 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("ok") }\n' : 'print("ok")\n';
    const host = floor.prepare(runtime, (await runner.locate(runtime))!.tool, { [entry]: code }, entry);
    const nonce = (i: number) => `${Date.now()}-${i}-${Math.random()}`;
    const floorT = await time(async (i) => {
      if (host.compile) {
        host.write(entry, code + comment(runtime, nonce(i)));
        await host.compile();
      }
      await lanes(2, SUITE_TESTS, () => host.run());
    }, SUITE_RUNS);
    const suite = async (i: number) => {
      const req = { runtime, code: compiled(runtime) ? code + comment(runtime, nonce(i)) : code, timeout: 5_000, tests: Array.from({ length: SUITE_TESTS }, () => ({ expectedOutput: 'ok' })) };
      const res = await fetch(`${server.url}/v1/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
      const body = (await res.json()) as { summary?: { passed: number } };
      if (res.status !== 200 || body.summary?.passed !== SUITE_TESTS) throw new Error(`suite: HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    };
    suites.push({ name: `${runtime}: ${SUITE_TESTS} test cases in one request`, floor: floorT, http: await time(suite, SUITE_RUNS) });
  }
  if (available.includes('python')) {
    // A checker program judges each test: the floor runs the program, then the checker beside
    // the files it gets (input, expected, output), per test, two tests at a time.
    const tool = (await runner.locate('python'))!.tool;
    const CHECKER = "o = open('output').read()\nraise SystemExit(0 if o.strip() == 'ok' and open('input').read() == '' else 1)\n";
    const program = floor.prepare('python', tool, { 'main.py': 'print("ok")\n' }, 'main.py');
    const checker = floor.prepare('python', tool, { 'main.py': CHECKER, input: '', expected: '', output: 'ok\n' }, 'main.py');
    const floorT = await time(() => lanes(2, SUITE_TESTS, async () => {
      await program.run();
      await checker.run();
    }), SUITE_RUNS);
    const req = { runtime: 'python', code: 'print("ok")\n', compare: { mode: 'checker', runtime: 'python', code: CHECKER }, tests: Array.from({ length: SUITE_TESTS }, () => ({})) };
    const suite = async () => {
      const res = await fetch(`${server.url}/v1/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) });
      const body = (await res.json()) as { summary?: { passed: number } };
      if (res.status !== 200 || body.summary?.passed !== SUITE_TESTS) throw new Error(`checker suite: HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    };
    suites.push({ name: `python: ${SUITE_TESTS} test cases judged by a python checker`, floor: floorT, http: await time(suite, SUITE_RUNS) });
  }

  // Live output: a program that prints, then works for a second. Time to the first streamed
  // stdout event (Accept: text/event-stream) against the plain JSON call's total time.
  const PRINT_THEN_SLEEP = 'import time\nprint("first", flush=True)\ntime.sleep(1)\nprint("done")\n';
  const firstByte = await measure(async () => {
    const started = performance.now();
    const res = await fetch(`${server.url}/v1/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ runtime: 'python', code: PRINT_THEN_SLEEP }),
    });
    let first = 0;
    for await (const e of readEvents(res.body!)) {
      if (e.event === 'stdout' && !first) first = performance.now() - started;
      if (e.event === 'result') break;
    }
    if (!first) throw new Error('no stdout event');
    return first;
  }, Math.min(RUNS, 10));
  const plainTotal = await time(() => http({ runtime: 'python', code: PRINT_THEN_SLEEP }), Math.min(RUNS, 10));
  const liveRow = { firstStdoutEvent: firstByte, plainCall: plainTotal };

  const tput: Array<{ concurrency: number; raw: number; http: number; cpuMs: { raw: number; http: number; server: number } }> = [];
  const py = floor.prepare('python', (await runner.locate('python'))!.tool, { 'main.py': 'print("hello")\n' }, 'main.py');
  for (const c of [1, 2, 4, 8]) {
    // Several seconds per point: a burst of a few executions measures the pool's head start, not the rate.
    const total = 40 * c + 40;
    // CPU time per operation (all cores, from /proc): what bounds the rate once the cores are busy.
    let m = machineCpuMs();
    const raw = await throughput(() => py.run(), c, total);
    const rawCpu = (machineCpuMs() - m) / total;
    m = machineCpuMs();
    const s = processCpuMs(server.child.pid!);
    const viaHttp = await throughput(() => http({ runtime: 'python', code: 'print("hello")' }), c, total);
    const cpuMs = { raw: round(rawCpu), http: round((machineCpuMs() - m) / total), server: round((processCpuMs(server.child.pid!) - s) / total) };
    tput.push({ concurrency: c, raw, http: viaHttp, cpuMs });
  }
  const rssAfter = server.rssMb();
  await server.stop();
  floor.dispose();

  const seccomp = [
    await filterCost('python hello', [(await runner.locate('python'))!.tool.bin, '-c', 'print("hello")'], RUNS * 2),
    await filterCost('node hello', [(await runner.locate('node'))!.tool.bin, '-e', 'console.log("hello")'], RUNS),
  ];

  // CLI start-up: `runtools --help` as users run it (the built bundle, bin/cli-bundle.mjs; built first when stale).
  if (!currentBundle()) await buildCliBundle();
  const cliHelp = await time(
    () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(import.meta.dirname, '../bin/runtools.mjs'), '--help'], { stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runtools --help exited with ${code}`))));
      }),
    10,
  );

  const machine = {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    sandbox: runner.sandbox.describe(),
    toolchains: Object.fromEntries(infos.map((i) => [i.runtime, i.version])),
  };
  const ratio = (a: number, b: number) => round(a / b, 2);
  const rows = latency.map((l) => ({ ...l, runnerRatio: ratio(l.runner.p50, l.floor.p50), httpRatio: ratio(l.http.p50, l.floor.p50) }));
  const suiteRows = suites.map((r) => ({ ...r, ratio: ratio(r.http.p50, r.floor.p50) }));
  const report = { machine, runs: { interpreted: RUNS, compiled: COMPILED_RUNS, suites: SUITE_RUNS }, latency: rows, suites: suiteRows, liveOutput: liveRow, throughput: tput.map((t) => ({ ...t, ratio: ratio(t.http, t.raw) })), serverRssMb: { idle: rssIdle, afterThroughput: rssAfter }, seccomp, cliHelp };
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);

  const lines = [
    `runtools bench — ${machine.date.slice(0, 10)} — ${machine.cores} cores, ${machine.cpu}, Linux ${machine.kernel}, Node ${machine.node}`,
    '',
    '| case | floor p50 / p95 (ms) | runner p50 / p95 (ms) | HTTP p50 / p95 (ms) | runner ÷ floor | HTTP ÷ floor |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.floor.p50} / ${r.floor.p95} | ${r.runner.p50} / ${r.runner.p95} | ${r.http.p50} / ${r.http.p95} | ${r.runnerRatio}× | ${r.httpRatio}× |`),
    '',
    `| test suite (${SUITE_RUNS} runs, server concurrency ${machine.cores}) | floor p50 / p95 (ms): 1 compile + ${SUITE_TESTS} direct runs (and checks), 2 at a time | HTTP p50 / p95 (ms) | HTTP ÷ floor |`,
    '|---|---|---|---|',
    ...suiteRows.map((r) => `| ${r.name} | ${r.floor.p50} / ${r.floor.p95} | ${r.http.p50} / ${r.http.p95} | ${r.ratio}× |`),
    '',
    '| live output: python prints, then sleeps 1 s | p50 / p95 (ms) |',
    '|---|---|',
    `| request → first streamed stdout event | ${liveRow.firstStdoutEvent.p50} / ${liveRow.firstStdoutEvent.p95} |`,
    `| the plain JSON call, total | ${liveRow.plainCall.p50} / ${liveRow.plainCall.p95} |`,
    '',
    '| concurrency | raw python spawns/s | HTTP executions/s | ratio | CPU ms per raw spawn | CPU ms per HTTP execution (server process) |',
    '|---|---|---|---|---|---|',
    ...report.throughput.map((t) => `| ${t.concurrency} | ${t.raw} | ${t.http} | ${Math.round(t.ratio * 100)}% | ${t.cpuMs.raw} | ${t.cpuMs.http} (${t.cpuMs.server}) |`),
    '',
    `Server RSS: ${rssIdle} MB idle, ${rssAfter} MB after the throughput run. Floor for compiled "repeat" rows: the built binary's own run.`,
    '',
    '| seccomp filters (launcher with vs without) | wall p50 (ms) | CPU per run (ms) | cost |',
    '|---|---|---|---|',
    ...seccomp.map((f) => `| ${f.program} (${f.runs} runs each, alternating) | ${f.withFilters} vs ${f.withoutFilters} | ${f.cpuWith} vs ${f.cpuWithout} | ${round(f.withFilters - f.withoutFilters, 2)} ms wall, ${round(f.cpuWith - f.cpuWithout, 2)} ms CPU |`),
    '',
    '| CLI start-up (10 runs) | p50 / p95 (ms) |',
    '|---|---|',
    `| runtools --help | ${cliHelp.p50} / ${cliHelp.p95} |`,
    `Figures: ${path.relative(process.cwd(), OUT)}`,
  ];
  console.log(lines.join('\n'));
}

/** Runs `task` `count` times, `width` at a time. */
async function lanes(width: number, count: number, task: () => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        next++;
        await task();
      }
    }),
  );
}

/** CPU time the whole machine has spent busy (every core, every process and the kernel), ms. */
function machineCpuMs(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  return (fields.reduce((a, b) => a + b, 0) - idle) * (1000 / CLOCK_TICKS);
}

/** CPU time one process has used (user + system), ms. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / CLOCK_TICKS);
}

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux architecture Node runs on). */
const CLOCK_TICKS = 100;

await main();
