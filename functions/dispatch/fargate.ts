/**
 * Background executions on ECS Fargate. The request is stored in S3; the runtime's task starts
 * with two short-lived presigned URLs in its container overrides (read the request, create the
 * one result object) and no AWS permissions of its own. Status comes from the task's state,
 * the result from the object; only the creating tenant can read either.
 */
import { DescribeTasksCommand, RunTaskCommand, type ECSClient, type Task } from '@aws-sdk/client-ecs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Execution, RuntimeInfo, ValidExecuteRequest } from '../contract.js';
import type { RuntimeId } from '../runtimes.js';
import { ExecutionObjects } from './execution-objects.js';
import type { ResultWriter } from './result-writer.js';
import { staticRuntimes } from './route.js';
import { BackendError, QueueFullError, RuntimeUnavailableError, type DispatchOutcome, type Dispatcher, type ExecutionContext } from './types.js';

/** The task definition and container that run one runtime. */
export interface TaskTarget {
  taskDefinition: string;
  containerName: string;
}

export interface FargateDispatcherOptions {
  ecs: ECSClient;
  /** Must be created with `requestChecksumCalculation: 'WHEN_REQUIRED'` (presigned uploads). */
  s3: S3Client;
  /** Holds requests, metadata and results under `executions/<id>/`. */
  bucket: string;
  cluster: string;
  tasks: Partial<Record<RuntimeId, TaskTarget>>;
  /** Where tasks run. */
  network: { subnets: string[]; securityGroups: string[]; assignPublicIp?: boolean };
  versions?: Partial<Record<RuntimeId, string>>;
  /** Lifetime of the request URL, s. @default 900 */
  requestUrlSeconds?: number;
  /** Lifetime of the result URL, s: must outlast the task's start plus the longest execution. @default 3600 */
  resultUrlSeconds?: number;
  /** Signs result URLs with a session that outlives the task (result-writer.ts). @default our own credentials */
  resultWriter?: ResultWriter;
  /** @default 'FARGATE' */
  launchType?: 'FARGATE' | 'EC2' | 'EXTERNAL';
  log?: (entry: Record<string, unknown>) => void;
}

/** ECS allows 8 KiB of container overrides; the URLs must fit with room to spare. */
const MAX_OVERRIDES_BYTES = 8 * 1024;

/** Runs each request as a Fargate task and answers 202; results are read back from S3. */
export class FargateDispatcher implements Dispatcher {
  private readonly log: (entry: Record<string, unknown>) => void;
  private readonly objects: ExecutionObjects;

  constructor(private readonly options: FargateDispatcherOptions) {
    this.log = options.log ?? ((e) => console.error(JSON.stringify(e)));
    this.objects = new ExecutionObjects({ s3: options.s3, bucket: options.bucket, log: this.log });
  }

  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const target = this.options.tasks[request.runtime];
    if (!target) throw new RuntimeUnavailableError(request.runtime);
    const id = ExecutionObjects.newId();
    const requestUrl = await this.objects.putRequest(id, request, this.options.requestUrlSeconds ?? 900, ctx.requestId);
    const resultUrl = await this.signedResultUrl(id, ctx);
    const overrides = {
      containerOverrides: [
        {
          name: target.containerName,
          environment: [
            { name: 'RUNTOOLS_REQUEST_URL', value: requestUrl },
            { name: 'RUNTOOLS_RESULT_URL', value: resultUrl },
          ],
        },
      ],
    };
    if (Buffer.byteLength(JSON.stringify(overrides)) > MAX_OVERRIDES_BYTES) {
      throw new BackendError('the task overrides exceed the ECS limit', 500);
    }

    let taskArn: string | undefined;
    try {
      const out = await this.options.ecs.send(
        new RunTaskCommand({
          cluster: this.options.cluster,
          taskDefinition: target.taskDefinition,
          launchType: this.options.launchType ?? 'FARGATE',
          count: 1,
          networkConfiguration: {
            awsvpcConfiguration: {
              subnets: this.options.network.subnets,
              securityGroups: this.options.network.securityGroups,
              assignPublicIp: this.options.network.assignPublicIp ? 'ENABLED' : 'DISABLED',
            },
          },
          overrides,
          startedBy: 'runtools',
        }),
      );
      taskArn = out.tasks?.[0]?.taskArn;
      if (!taskArn) {
        this.log({ level: 'error', msg: 'RunTask started no task', requestId: ctx.requestId, failures: out.failures });
        throw new BackendError('no task could be started', 503);
      }
    } catch (err) {
      if (err instanceof BackendError) throw err;
      const e = err as Error & { $metadata?: { httpStatusCode?: number } };
      this.log({ level: 'error', msg: 'RunTask failed', requestId: ctx.requestId, error: e?.name, message: e?.message });
      if (e?.name === 'ThrottlingException' || e?.$metadata?.httpStatusCode === 429) throw new QueueFullError(5);
      throw new BackendError('no task could be started', 503, { cause: err });
    }

    await this.objects.putMeta(id, { tenant: ctx.tenant, backend: 'task', taskArn, runtime: request.runtime, createdAt: new Date().toISOString() }, ctx.requestId);
    return { kind: 'accepted', id, status: 'queued' };
  }

  /** The task's result URL, valid until the task must be over (never past its signing session). */
  private async signedResultUrl(id: string, ctx: ExecutionContext): Promise<string> {
    const seconds = this.options.resultUrlSeconds ?? 3600;
    if (!this.options.resultWriter) return this.objects.resultUrl(id, seconds);
    let signer;
    try {
      signer = await this.options.resultWriter.signer();
    } catch (err) {
      this.log({ level: 'error', msg: 'assuming the result-writer role failed', requestId: ctx.requestId, error: (err as Error).message });
      throw new BackendError('no task could be started', 503, { cause: err });
    }
    return this.objects.resultUrl(id, Math.min(seconds, Math.floor(signer.validMs / 1000)), signer.s3);
  }

  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    const meta = await this.objects.meta(id, tenant);
    if (!meta || meta.backend !== 'task' || !meta.taskArn) return null;

    const done = await this.objects.outcome(id);
    if (done) return done;

    let task: Task | undefined;
    try {
      const out = await this.options.ecs.send(new DescribeTasksCommand({ cluster: this.options.cluster, tasks: [meta.taskArn] }));
      task = out.tasks?.[0];
    } catch (err) {
      this.log({ level: 'error', msg: 'DescribeTasks failed', id, error: (err as Error).message });
      throw new BackendError('the execution status is unavailable', 503, { cause: err });
    }
    if (!task) return { id, status: 'failed', error: { code: 'internal', message: 'the execution task is no longer known' } };
    switch (task.lastStatus) {
      case 'PROVISIONING':
      case 'PENDING':
      case 'ACTIVATING':
        return { id, status: 'queued' };
      case 'STOPPED': {
        // The result may have landed between the two reads.
        const late = await this.objects.outcome(id);
        if (late) return late;
        const exit = task.containers?.find((c) => c.exitCode !== undefined)?.exitCode;
        const reason = [task.stoppedReason ?? 'the task stopped', exit !== undefined ? `exit code ${exit}` : null].filter(Boolean).join('; ');
        return { id, status: 'failed', error: { code: 'internal', message: `the execution stopped without a result (${reason})` } };
      }
      default:
        return { id, status: 'running' };
    }
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    return staticRuntimes(this.options.versions ?? {}, Object.keys(this.options.tasks) as RuntimeId[]);
  }
}
