/**
 * A small ECS for tests: RunTask and DescribeTasks over the real JSON 1.1 protocol that
 * @aws-sdk/client-ecs speaks. RunTask starts functions/runner/task.ts as a process in its own
 * PID namespace with the container overrides' environment; DescribeTasks reports it as
 * PROVISIONING → RUNNING → STOPPED with the exit code and a stop reason.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.';

interface EmulatedTask {
  taskArn: string;
  taskDefinitionArn: string;
  clusterArn: string;
  lastStatus: 'PROVISIONING' | 'RUNNING' | 'STOPPED';
  exitCode?: number;
  stoppedReason?: string;
  stopCode?: string;
  createdAt: number;
  child?: ChildProcess;
  output: string[];
  /** Set when the test stops the task, as Fargate would on OOM or a host failure. */
  killedBecause?: string;
}

interface ContainerOverride {
  name?: string;
  environment?: Array<{ name?: string; value?: string }>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string) {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
  res.end(JSON.stringify(body));
}

/** The emulator: `endpoint` goes into `new ECSClient({ endpoint })`. */
export class EcsEmulator {
  endpoint = '';
  readonly tasks = new Map<string, EmulatedTask>();
  /** Every RunTask request as received. */
  readonly runTaskRequests: any[] = [];
  private readonly server: Server;
  private held: Array<() => void> | null = null;
  private readonly root = mkdtempSync(path.join(os.tmpdir(), 'runtools-ecs-'));

  /**
   * `taskDefinitions` maps the task definition ARNs the emulator accepts to their container name;
   * `baseEnv` is the environment every task starts with (toolchain locations).
   */
  constructor(
    private readonly cluster: string,
    private readonly taskDefinitions: Record<string, { containerName: string }>,
    private readonly baseEnv: Record<string, string> = {},
    /** Delay before a task starts running, ms (Fargate takes a while). @default 200 */
    private readonly provisioningMs = 200,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => reply(res, 500, { message: err.message }, 'ServerException'));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Keeps new tasks in PROVISIONING until resume() (capacity shortage, image pull). */
  hold(): void {
    this.held ??= [];
  }

  /** Starts the held tasks and stops holding. */
  resume(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const start of held) start();
  }

  /** Kills a running task's container (what an out-of-memory kill or a host failure does). */
  crash(taskArn: string, reason = 'OutOfMemoryError: Container killed due to memory usage'): void {
    const task = this.tasks.get(taskArn);
    if (!task?.child) throw new Error(`task ${taskArn} is not running`);
    task.killedBecause = reason;
    task.child.kill('SIGKILL');
  }

  /** Resolves once the task has stopped. */
  waitStopped(taskArn: string): Promise<EmulatedTask> {
    return new Promise((resolve) => {
      const check = () => {
        const t = this.tasks.get(taskArn);
        if (t?.lastStatus === 'STOPPED') resolve(t);
        else setTimeout(check, 50);
      };
      check();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const body = JSON.parse((await readBody(req)) || '{}');
    if (!target.startsWith(TARGET_PREFIX)) return reply(res, 400, { message: 'missing X-Amz-Target' }, 'InvalidParameterException');
    const op = target.slice(TARGET_PREFIX.length);
    if (op === 'RunTask') return this.runTask(body, res);
    if (op === 'DescribeTasks') return this.describeTasks(body, res);
    return reply(res, 400, { message: `unsupported operation ${op}` }, 'InvalidParameterException');
  }

  private runTask(body: any, res: ServerResponse): void {
    this.runTaskRequests.push(body);
    if (body.cluster !== this.cluster) return reply(res, 400, { message: 'Cluster not found.' }, 'ClusterNotFoundException');
    const def = this.taskDefinitions[body.taskDefinition];
    if (!def) return reply(res, 400, { message: 'TaskDefinition not found.' }, 'InvalidParameterException');
    const overrides = (body.overrides?.containerOverrides ?? []) as ContainerOverride[];
    if (Buffer.byteLength(JSON.stringify(body.overrides ?? {})) > 8192) {
      return reply(res, 400, { message: 'Container Overrides length must be at most 8192' }, 'InvalidParameterException');
    }
    const env: Record<string, string> = {};
    for (const o of overrides) {
      if (o.name !== def.containerName) return reply(res, 400, { message: `no container named ${o.name}` }, 'InvalidParameterException');
      for (const e of o.environment ?? []) if (e.name) env[e.name] = e.value ?? '';
    }
    const id = randomUUID().replace(/-/g, '');
    const task: EmulatedTask = {
      taskArn: `arn:aws:ecs:eu-west-1:123456789012:task/${this.cluster}/${id}`,
      taskDefinitionArn: body.taskDefinition,
      clusterArn: `arn:aws:ecs:eu-west-1:123456789012:cluster/${this.cluster}`,
      lastStatus: 'PROVISIONING',
      createdAt: Date.now() / 1000,
      output: [],
    };
    this.tasks.set(task.taskArn, task);
    setTimeout(() => {
      const start = () => this.startTask(task, id, env);
      if (this.held) this.held.push(start);
      else start();
    }, this.provisioningMs);
    reply(res, 200, { tasks: [this.describe(task)], failures: [] });
  }

  private startTask(task: EmulatedTask, id: string, overrideEnv: Record<string, string>): void {
    const scratch = path.join(this.root, id);
    mkdirSync(scratch, { recursive: true });
    task.lastStatus = 'RUNNING';
    task.child = spawn(
      'unshare',
      ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '--import', 'tsx', path.join(ROOT, 'functions/runner/task.ts')],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          LANG: 'C.UTF-8',
          HOME: scratch,
          ...this.baseEnv,
          ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/emulated',
          RUNTOOLS_WORK_ROOT: path.join(scratch, 'runtools'),
          RUNTOOLS_SCRATCH_ROOT: scratch,
          ...overrideEnv,
        },
      },
    );
    const keep = (chunk: Buffer) => task.output.push(chunk.toString('utf8'));
    task.child.stdout!.on('data', keep);
    task.child.stderr!.on('data', keep);
    task.child.on('exit', (code, signal) => {
      task.lastStatus = 'STOPPED';
      task.exitCode = code ?? (signal === 'SIGKILL' ? 137 : 1);
      task.stopCode = 'EssentialContainerExited';
      task.stoppedReason = task.killedBecause ?? 'Essential container in task exited';
      task.child = undefined;
      rmSync(scratch, { recursive: true, force: true });
    });
  }

  private describeTasks(body: any, res: ServerResponse): void {
    const tasks: unknown[] = [];
    const failures: unknown[] = [];
    for (const arn of (body.tasks ?? []) as string[]) {
      const t = this.tasks.get(arn);
      if (t) tasks.push(this.describe(t));
      else failures.push({ arn, reason: 'MISSING' });
    }
    reply(res, 200, { tasks, failures });
  }

  private describe(t: EmulatedTask) {
    return {
      taskArn: t.taskArn,
      clusterArn: t.clusterArn,
      taskDefinitionArn: t.taskDefinitionArn,
      lastStatus: t.lastStatus,
      desiredStatus: t.lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
      launchType: 'FARGATE',
      createdAt: t.createdAt,
      ...(t.lastStatus === 'STOPPED' ? { stoppedReason: t.stoppedReason, stopCode: t.stopCode } : {}),
      containers: [
        {
          name: this.taskDefinitions[t.taskDefinitionArn]!.containerName,
          lastStatus: t.lastStatus,
          ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}),
        },
      ],
    };
  }

  /** Kills running tasks, stops the server and removes the scratch space. */
  async stop(): Promise<void> {
    const running = [...this.tasks.values()].filter((t) => t.child);
    await Promise.all(
      running.map((t) => new Promise<void>((resolve) => {
        t.child!.once('exit', () => resolve());
        t.child!.kill('SIGKILL');
      })),
    );
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    rmSync(this.root, { recursive: true, force: true });
  }
}
