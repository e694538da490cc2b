/**
 * The AWS route policy: what a runner function can hold runs on Lambda (answered 200 when it
 * finishes within the API's window, else 202), what it cannot (longer than the function's
 * timeout) and runtimes configured for tasks run as Fargate tasks (answered 202).
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { z } from 'zod';
import { RUNTIME_FACTS, RUNTIME_IDS, type Execution, type RuntimeInfo, type ValidExecuteRequest } from '../contract.js';
import type { RuntimeId } from '../runtimes.js';
import { CheckerSuites, crossRuntimeChecker } from './checker-suite.js';
import { FargateDispatcher } from './fargate.js';
import { LambdaDispatcher } from './lambda.js';
import { ResultWriter } from './result-writer.js';
import { exceedsSyncBudget } from './policy.js';
import { UnsupportedRequestError, type DispatchOutcome, type Dispatcher, type ExecutionContext } from './types.js';

export interface RoutePolicy {
  /** How long the API waits for a Lambda execution before answering 202, ms. @default 25000 */
  syncBudgetMs: number;
  /** Longest execution (timeout plus compile allowance) a runner function can hold, ms; above it → task. @default syncBudgetMs */
  functionBudgetMs?: number;
  /** Added to `timeout` for compiled runtimes. @default 10000 */
  compileAllowanceMs: number;
  /** Runtimes that always run as tasks. @default none */
  taskRuntimes: readonly RuntimeId[];
}

/** The policy the stack deploys unless configured otherwise (infra/config.ts). */
export const DEFAULT_ROUTE_POLICY: RoutePolicy = { syncBudgetMs: 25_000, functionBudgetMs: 55_000, compileAllowanceMs: 10_000, taskRuntimes: [] };

/** Where a request runs under the policy: `sync` (Lambda: 200, or 202 past the window) or `task` (Fargate: 202). */
export function routeFor(request: Pick<ValidExecuteRequest, 'runtime' | 'timeout'>, policy: RoutePolicy = DEFAULT_ROUTE_POLICY): 'sync' | 'task' {
  if (policy.taskRuntimes.includes(request.runtime)) return 'task';
  const budget = { syncBudgetMs: policy.functionBudgetMs ?? policy.syncBudgetMs, compileAllowanceMs: policy.compileAllowanceMs };
  return exceedsSyncBudget(request, budget) ? 'task' : 'sync';
}

/** GET /v1/runtimes for a deployment whose toolchains live in images: versions come from configuration. */
export function staticRuntimes(versions: Partial<Record<RuntimeId, string>>, deployed: readonly RuntimeId[]): RuntimeInfo[] {
  return RUNTIME_FACTS.map((facts) => ({
    ...facts,
    version: versions[facts.runtime] ?? null,
    available: deployed.includes(facts.runtime),
  }));
}

/** Sends each request to the synchronous or the task backend according to the policy. */
export class RoutingDispatcher implements Dispatcher {
  /** Lambda streams live; a request sent to a task is answered at once (accepted) and polled. */
  readonly liveOutput = true;
  constructor(
    private readonly backends: { sync: Dispatcher; task: Dispatcher },
    private readonly policy: RoutePolicy = DEFAULT_ROUTE_POLICY,
    /** Suites whose checker is in another runtime than the program (two functions, judged here). */
    private readonly checkerSuites?: CheckerSuites,
  ) {}

  execute(request: ValidExecuteRequest, ctx: ExecutionContext): Promise<DispatchOutcome> {
    // One invocation (or task) runs a whole suite, in the image of the program's runtime, which
    // holds that toolchain only: a checker in another runtime runs in its own runtime's function.
    const checker = crossRuntimeChecker(request);
    if (checker) {
      if (!this.checkerSuites) {
        return Promise.reject(new UnsupportedRequestError(`on this deployment a checker runs in the program's runtime (${request.runtime}): write the checker in ${request.runtime}`, 'compare.runtime'));
      }
      return this.checkerSuites.execute(request, ctx);
    }
    return this.backends[routeFor(request, this.policy)].execute(request, ctx);
  }

  /** An execution answered 202 by either backend (each knows its own from the stored metadata). */
  async getExecution(id: string, tenant: string): Promise<Execution | null> {
    return (await this.backends.sync.getExecution(id, tenant)) ?? this.backends.task.getExecution(id, tenant);
  }

  runtimes(): Promise<RuntimeInfo[]> {
    return this.backends.sync.runtimes();
  }

  async close(): Promise<void> {
    await Promise.all([this.backends.sync.close?.(), this.backends.task.close?.()]);
  }
}

const RuntimeMap = <T extends z.ZodType>(value: T) => z.partialRecord(z.enum(RUNTIME_IDS), value);

/**
 * What the stack tells the API function about the deployment (one JSON environment variable,
 * `RUNTOOLS_DEPLOYMENT`): where each runtime's function and task are, and the route policy.
 */
export const AwsDeploymentSchema = z.object({
  functions: RuntimeMap(z.string().min(1)),
  tasks: RuntimeMap(z.object({ taskDefinition: z.string().min(1), containerName: z.string().min(1) })),
  versions: RuntimeMap(z.string()),
  cluster: z.string().min(1),
  bucket: z.string().min(1),
  subnets: z.array(z.string()),
  securityGroups: z.array(z.string()),
  assignPublicIp: z.boolean(),
  tenantIsolation: z.boolean(),
  syncBudgetMs: z.number().int().positive(),
  /** Longest execution a runner function holds (its timeout less a margin), ms. @default syncBudgetMs */
  functionBudgetMs: z.number().int().positive().optional(),
  compileAllowanceMs: z.number().int().min(0),
  taskRuntimes: z.array(z.enum(RUNTIME_IDS)),
  maxTimeoutMs: z.number().int().positive(),
  /** Lifetime of a task's result upload URL, s. */
  resultUrlSeconds: z.number().int().positive(),
  /** The role whose fresh sessions sign tasks' result URLs (result-writer.ts). @default our own credentials */
  resultWriterRoleArn: z.string().min(1).optional(),
});
export type AwsDeployment = z.infer<typeof AwsDeploymentSchema>;

/** AWS SDK clients the AWS dispatchers use (endpoints are overridable for local emulators). */
export interface AwsClients {
  lambda: LambdaClient;
  ecs: ECSClient;
  s3: S3Client;
  /** For the result-writer role's sessions. */
  sts?: STSClient;
  /** An S3 client like `s3` that signs with other credentials. */
  s3With?(credentials: AwsCredentialIdentity): S3Client;
}

/**
 * Clients with the settings the API function needs: no retried invocation (one that failed may
 * have run its program; a throttled one is answered 429 with Retry-After instead), a read timeout
 * past the runners'.
 */
export function defaultAwsClients(deployment: Pick<AwsDeployment, 'syncBudgetMs'>): AwsClients {
  // WHEN_REQUIRED: otherwise presigned PUT URLs carry the checksum of an empty body and S3 rejects the upload.
  const s3Config = { maxAttempts: 3, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const;
  return {
    lambda: new LambdaClient({ maxAttempts: 1, requestHandler: { requestTimeout: deployment.syncBudgetMs + 60_000, connectionTimeout: 5_000 } }),
    ecs: new ECSClient({ maxAttempts: 3 }),
    s3: new S3Client(s3Config),
    sts: new STSClient({ maxAttempts: 3 }),
    s3With: (credentials) => new S3Client({ ...s3Config, credentials }),
  };
}

/** The API's dispatcher on AWS: Lambda for what fits the synchronous budget, Fargate for the rest. */
export function createAwsDispatcher(
  deployment: AwsDeployment,
  clients: AwsClients = defaultAwsClients(deployment),
  log?: (entry: Record<string, unknown>) => void,
): RoutingDispatcher {
  const sync = new LambdaDispatcher({
    log,
    client: clients.lambda,
    functions: deployment.functions,
    versions: deployment.versions,
    tenantIsolation: deployment.tenantIsolation,
    s3: clients.s3,
    bucket: deployment.bucket,
    windowMs: deployment.syncBudgetMs,
    compileAllowanceMs: deployment.compileAllowanceMs,
  });
  const task = new FargateDispatcher({
    log,
    ecs: clients.ecs,
    s3: clients.s3,
    bucket: deployment.bucket,
    cluster: deployment.cluster,
    tasks: deployment.tasks,
    network: { subnets: deployment.subnets, securityGroups: deployment.securityGroups, assignPublicIp: deployment.assignPublicIp },
    versions: deployment.versions,
    resultUrlSeconds: deployment.resultUrlSeconds,
    ...(deployment.resultWriterRoleArn && clients.sts && clients.s3With
      ? { resultWriter: new ResultWriter({ sts: clients.sts, roleArn: deployment.resultWriterRoleArn, s3With: clients.s3With }) }
      : {}),
  });
  const checkerSuites = new CheckerSuites({
    lambda: sync,
    windowMs: deployment.syncBudgetMs,
    compileAllowanceMs: deployment.compileAllowanceMs,
    functionBudgetMs: deployment.functionBudgetMs ?? deployment.syncBudgetMs,
    log: log ?? ((e) => console.error(JSON.stringify(e))),
  });
  return new RoutingDispatcher({ sync, task }, deployment, checkerSuites);
}
