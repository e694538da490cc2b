/**
 * Background executions on ECS Fargate. The request is stored in S3; the runtime's task starts
 * with two short-lived presigned URLs in its container overrides (read the request, create the
 * one result object) and no AWS permissions of its own. Status comes from the task's state,
 * the result from the object; only the creating tenant can read either.
 */
import { randomBytes } from 'node:crypto';
import { DescribeTasksCommand, RunTaskCommand, type ECSClient, type Task } from '@aws-sdk/client-ecs';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { ExecuteResultSchema, type Execution, type RuntimeInfo, type ValidExecuteRequest } from '../contract.js';
import type { RuntimeId } from '../runtimes.js';
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
  /** @default 'FARGATE' */
  launchType?: 'FARGATE' | 'EC2' | 'EXTERNAL';
  log?: (entry: Record<string, unknown>) => void;
}

const MetaSchema = z.object({ tenant: z.string(), taskArn: z.string(), runtime: z.string(), createdAt: z.string() });
type Meta = z.infer<typeof MetaSchema>;

const OutcomeSchema = z.union([
  z.object({ result: ExecuteResultSchema }),
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
]);

const ID = /^[A-Za-z0-9_-]{16,64}$/;

/** ECS allows 8 KiB of container overrides; the URLs must fit with room to spare. */
const MAX_OVERRIDES_BYTES = 8 * 1024;

const key = (id: string, name: 'meta' | 'request' | 'result') => `executions/${id}/${name}.json`;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** Runs each request as a Fargate task and answers 202; results are read back from S3. */
export class FargateDispatcher implements Dispatcher {
  private readonly log: (entry: Record<string, unknown>) => void;

  constructor(private readonly options: FargateDispatcherOptions) {
    this.log = options.log ?? ((e) => console.error(JSON.stringify(e)));
  }

  async execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    const target = this.options.tasks[request.runtime];
    if (!target) throw new RuntimeUnavailableError(request.runtime);
    const id = randomBytes(16).toString('base64url');
    const { s3, bucket } = this.options;
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(id, 'request'), Body: JSON.stringify({ request }), ContentType: 'application/json' }));
    } catch (err) {
      this.log({ level: 'error', msg: 'storing the request failed', requestId: ctx.requestId, error: (err as Error).message });
      throw new BackendError('the request could not be stored', 503, { cause: err });
    }
    const requestUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key(id, 'request') }), {
      expiresIn: this.options.requestUrlSeconds ?? 900,
    });
    const resultUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: key(id, 'result'), IfNoneMatch: '*' }), {
      expiresIn: this.options.resultUrlSeconds ?? 3600,
    });
    if (/[?&]x-amz-checksum-/i.test(resultUrl)) {
      // The client computes checksums by default: the URL would only accept an empty body.
      throw new BackendError('the S3 client must be created with requestChecksumCalculation: WHEN_REQUIRED', 500);
    }
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

    const meta: Meta = { tenant: ctx.tenant, taskArn, runtime: request.runtime, createdAt: new Date().toISOString() };
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(id, 'meta'), Body: JSON.stringify(meta), ContentType: 'application/json' }));
    } catch (err) {
      this.log({ level: 'error', msg: 'storing the execution metadata failed', requestId: ctx.requestId, error: (err as Error).message });
      throw new BackendError('the execution could not be recorded', 503, { cause: err });
    }
    return { kind: 'accepted', id, status: 'queued' };
  }

  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    if (!ID.test(id)) return null;
    const metaJson = await this.readJson(key(id, 'meta'));
    const meta = metaJson === null ? null : MetaSchema.safeParse(metaJson);
    if (!meta?.success || meta.data.tenant !== tenant) return null;

    const done = await this.outcome(id);
    if (done) return done;

    let task: Task | undefined;
    try {
      const out = await this.options.ecs.send(new DescribeTasksCommand({ cluster: this.options.cluster, tasks: [meta.data.taskArn] }));
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
        const late = await this.outcome(id);
        if (late) return late;
        const exit = task.containers?.find((c) => c.exitCode !== undefined)?.exitCode;
        const reason = [task.stoppedReason ?? 'the task stopped', exit !== undefined ? `exit code ${exit}` : null].filter(Boolean).join('; ');
        return { id, status: 'failed', error: { code: 'internal', message: `the execution stopped without a result (${reason})` } };
      }
      default:
        return { id, status: 'running' };
    }
  }

  private async outcome(id: string): Promise<Execution | null> {
    const json = await this.readJson(key(id, 'result'));
    if (json === null) return null;
    const parsed = OutcomeSchema.safeParse(json);
    if (!parsed.success) return { id, status: 'failed', error: { code: 'internal', message: 'the execution produced an unreadable result' } };
    if ('result' in parsed.data) return { id, status: 'completed', result: parsed.data.result };
    return { id, status: 'failed', error: parsed.data.error };
  }

  private async readJson(objectKey: string): Promise<unknown | null> {
    try {
      const out = await this.options.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: objectKey }));
      const text = await out.Body!.transformToString();
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return { unreadable: true };
      }
    } catch (err) {
      if (isMissing(err)) return null;
      this.log({ level: 'error', msg: 'reading from the results bucket failed', key: objectKey, error: (err as Error).message });
      throw new BackendError('the execution status is unavailable', 503, { cause: err });
    }
  }

  async runtimes(): Promise<RuntimeInfo[]> {
    return staticRuntimes(this.options.versions ?? {}, Object.keys(this.options.tasks) as RuntimeId[]);
  }
}
