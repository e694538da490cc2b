/**
 * The deployment's configuration: CDK context keys prefixed `runtools:`, validated with zod.
 * Every key is optional; the defaults below are what `npx cdk deploy` gets with no context.
 * Values given on the command line (`-c runtools:network=internet`) arrive as strings and are
 * coerced; JSON-valued keys accept a JSON string or an object from cdk.json.
 */
import { z } from 'zod';
import { DEFAULT_LIMITS, RUNTIME_IDS, type RuntimeId } from '../functions/contract.js';
import { runtimeFacts } from '../functions/runtimes.js';

const CONTEXT_PREFIX = 'runtools:';

/** Lambda settings of one runtime's runner function. */
export interface RunnerFunctionSettings {
  /** @default the registry's, else 2048 for compiled runtimes (compilers), 1024 otherwise */
  memoryMiB: number;
  /** @default 60 */
  timeoutSeconds: number;
  /** /tmp size. @default the registry's, else 2048 for compiled runtimes, 1024 otherwise */
  ephemeralStorageMiB: number;
}

/** One usage plan (a price tier): monthly quota and throttling. */
export interface UsagePlanSettings {
  /** Executions per month. */
  quotaPerMonth: number;
  /** Steady-state requests per second. */
  rateLimit: number;
  burstLimit: number;
}

/** Per-runtime Lambda defaults from the registry (compilers need more memory and disk). */
export function defaultFunctionSettings(runtime: RuntimeId): RunnerFunctionSettings {
  const facts = runtimeFacts(runtime);
  const size = facts.compiled ? 2048 : 1024;
  return {
    memoryMiB: facts.function?.memoryMiB ?? size,
    timeoutSeconds: 60,
    ephemeralStorageMiB: facts.function?.ephemeralStorageMiB ?? size,
  };
}

/** How long a Fargate task may take to start (pull its image, attach its network) before it runs. */
const TASK_START_ALLOWANCE_MS = 10 * 60_000;

/** What a runner function keeps past its longest execution: starting, answering, storing the outcome. */
export const FUNCTION_MARGIN_MS = 5_000;

/**
 * A runner function's default timeout: long enough for the longest execution the API accepts
 * (timeout plus compile allowance), up to Lambda's 15 minutes, so Lambda runs every request it
 * can and Fargate is left what it cannot (longer, or more memory).
 */
export function runnerTimeoutSeconds(cfg: { maxTimeoutMs: number; compileAllowanceMs: number }): number {
  return Math.min(900, Math.ceil((cfg.maxTimeoutMs + cfg.compileAllowanceMs + FUNCTION_MARGIN_MS) / 1000));
}

/** The price list: free 1,000, pro 50,000, team 500,000 executions per month. */
export const DEFAULT_USAGE_PLANS: Record<string, UsagePlanSettings> = {
  free: { quotaPerMonth: 1_000, rateLimit: 2, burstLimit: 5 },
  pro: { quotaPerMonth: 50_000, rateLimit: 20, burstLimit: 40 },
  team: { quotaPerMonth: 500_000, rateLimit: 100, burstLimit: 200 },
};

const json = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' ? JSON.parse(v) : v), schema);

const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.enum(RUNTIME_IDS)),
);

const bool = z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean());

const FunctionOverride = z
  .object({
    memoryMiB: z.coerce.number().int().min(128).max(10_240),
    timeoutSeconds: z.coerce.number().int().min(1).max(900),
    ephemeralStorageMiB: z.coerce.number().int().min(512).max(10_240),
  })
  .partial()
  .strict();

const UsagePlan = z
  .object({
    quotaPerMonth: z.number().int().positive(),
    rateLimit: z.number().positive(),
    burstLimit: z.number().int().positive(),
  })
  .strict();

const ConfigSchema = z
  .object({
    /** CloudFormation stack name. @default Runtools */
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/).default('Runtools'),
    /** Runtimes to deploy (one image, one function and one task definition each). @default every runtime of the registry */
    runtimes: list.default([...RUNTIME_IDS]),
    /** `none`: runners and tasks have no route to the internet; `internet`: they do. @default none */
    network: z.enum(['none', 'internet']).default('none'),
    /** Lambda tenant isolation: a warm runner environment only ever serves one API key. @default true */
    tenantIsolation: bool.default(true),
    /** Longest synchronous execution (timeout plus compile allowance), ms; above it → Fargate task. @default 25000 */
    syncBudgetMs: z.coerce.number().int().min(1_000).max(900_000).default(25_000),
    /**
     * API Gateway's integration timeout, s. Above 29 needs an approved quota increase
     * ("Maximum integration timeout") for the account and region. @default 29
     */
    apiTimeoutSeconds: z.coerce.number().int().min(1).max(300).default(29),
    /** Added to `timeout` for compiled runtimes when routing. @default 10000 */
    compileAllowanceMs: z.coerce.number().int().min(0).default(10_000),
    /** Runtimes whose executions always run as Fargate tasks. @default none */
    taskRuntimes: list.default([]),
    /** Upper bound of a request's `timeout`, ms. @default 300000 */
    maxTimeoutMs: z.coerce.number().int().min(1_000).max(3_600_000).default(DEFAULT_LIMITS.maxTimeoutMs),
    /** Per-runtime Lambda overrides, e.g. `{"rust":{"memoryMiB":4096}}`. @default see defaultFunctionSettings */
    functions: json(z.partialRecord(z.enum(RUNTIME_IDS), FunctionOverride)).default({}),
    /** Fargate task size. @default 1 vCPU, 2 GiB, 21 GiB ephemeral storage */
    taskCpu: z.coerce.number().int().refine((n) => [256, 512, 1024, 2048, 4096].includes(n), 'taskCpu must be 256, 512, 1024, 2048 or 4096').default(1024),
    taskMemoryMiB: z.coerce.number().int().min(512).max(30_720).default(2048),
    /** Usage plans by name. @default DEFAULT_USAGE_PLANS (free, pro, team) */
    usagePlans: json(z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), UsagePlan)).default(DEFAULT_USAGE_PLANS),
    /** Days a stored request/result object lives in the results bucket. @default 1 */
    resultsExpireDays: z.coerce.number().int().min(1).max(365).default(1),
    /** Days of CloudWatch log retention. @default 30 */
    logRetentionDays: z.coerce.number().int().min(1).default(30),
    /** Availability zones of the VPC. @default 2 */
    maxAzs: z.coerce.number().int().min(1).max(6).default(2),
    /**
     * Create API Gateway's account-level CloudWatch Logs role (AWS::ApiGateway::Account): stage
     * access logs fail without one. `false` for accounts that manage that setting centrally. @default true
     */
    apiGatewayAccountRole: bool.default(true),
    /**
     * The account's Lambda concurrent-executions quota in this region (less what other functions
     * already reserve): sizes the reserved concurrency of the API and runner functions
     * (see concurrencyPlan). @default none: nothing reserved
     */
    accountConcurrency: z.coerce.number().int().min(0).optional(),
    /** Monthly cost budget (AWS Budgets, whole account), USD. @default 100 */
    monthlyBudgetUsd: z.coerce.number().positive().default(100),
  })
  .strict();

/** The validated deployment configuration. */
export type RuntoolsConfig = Omit<z.output<typeof ConfigSchema>, 'functions'> & {
  functions: Record<RuntimeId, RunnerFunctionSettings>;
};

/** Validates `runtools:*` context values (a plain record: `app.node.getAllContext()`); throws naming every bad key. */
export function parseConfig(context: Record<string, unknown>): RuntoolsConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(context)) {
    if (key.startsWith(CONTEXT_PREFIX)) raw[key.slice(CONTEXT_PREFIX.length)] = value;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${CONTEXT_PREFIX}${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`invalid runtools configuration:\n${lines.join('\n')}`);
  }
  const cfg = parsed.data;
  const functions = Object.fromEntries(
    RUNTIME_IDS.map((id) => [id, { ...defaultFunctionSettings(id), timeoutSeconds: runnerTimeoutSeconds(cfg), ...cfg.functions[id] }]),
  ) as Record<RuntimeId, RunnerFunctionSettings>;
  for (const id of cfg.taskRuntimes) {
    if (!cfg.runtimes.includes(id)) throw new Error(`invalid runtools configuration: taskRuntimes names ${id}, which is not in runtimes`);
  }
  if (cfg.syncBudgetMs + 3_000 > cfg.apiTimeoutSeconds * 1000) {
    throw new Error(
      `invalid runtools configuration: syncBudgetMs (${cfg.syncBudgetMs}) must leave 3 s of apiTimeoutSeconds (${cfg.apiTimeoutSeconds} s) for invoking and answering`,
    );
  }
  // A task's result URL is signed by a session of at most an hour (functions/dispatch/result-writer.ts):
  // the longest task, with 10 minutes to start and a minute of reuse, must fit in it.
  if (cfg.maxTimeoutMs + cfg.compileAllowanceMs + TASK_START_ALLOWANCE_MS > 59 * 60_000) {
    throw new Error(
      `invalid runtools configuration: maxTimeoutMs (${cfg.maxTimeoutMs}) + compileAllowanceMs + 10 min for a task to start exceeds the 59 minutes a task's result URL stays valid`,
    );
  }
  const shortestSync = Math.min(...cfg.runtimes.map((id) => functions[id].timeoutSeconds * 1000));
  if (cfg.syncBudgetMs > shortestSync) {
    throw new Error(`invalid runtools configuration: syncBudgetMs (${cfg.syncBudgetMs}) exceeds a runner function timeout (${shortestSync} ms)`);
  }
  return { ...cfg, functions };
}

/** Lambda keeps this much of an account's concurrency unreserved in every region. */
export const LAMBDA_UNRESERVED_MINIMUM = 100;

/** Reserved concurrency of the API function and of each runner function, or why there is none. */
export type ConcurrencyPlan = { api: number; runner: number } | { off: string };

/**
 * Sizes reserved concurrency from the account's quota. Lambda refuses a reservation that leaves
 * less than 100 unreserved ("You can reserve up to the Unreserved account concurrency value that
 * is shown, minus 100", docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html),
 * and a failed reservation rolls the deploy back, so: runtools reserves at most half of what is
 * reservable. Half, because CloudFormation applies the new reservations of a later deploy (other
 * runtimes, another quota) in any order: old and new values side by side stay within the quota.
 * The API gets half of that (a synchronous execution holds an API and a runner execution), the
 * runners share the other half equally. Nothing is reserved (`off`, with the reason) when the
 * quota is unknown or too small to give every function at least one.
 */
export function concurrencyPlan(accountConcurrency: number | undefined, runners: number): ConcurrencyPlan {
  if (accountConcurrency === undefined) {
    return { off: 'runtools:accountConcurrency is not set' };
  }
  const budget = Math.floor((accountConcurrency - LAMBDA_UNRESERVED_MINIMUM) / 2);
  const api = Math.ceil(budget / 2);
  const runner = runners > 0 ? Math.floor((budget - api) / runners) : 0;
  if (api < 1 || runner < 1) {
    return {
      off: `runtools:accountConcurrency=${accountConcurrency} is too small: Lambda keeps ${LAMBDA_UNRESERVED_MINIMUM} unreserved and runtools reserves at most half of the rest, which cannot give the API and ${runners} runner function(s) one each (needs at least ${LAMBDA_UNRESERVED_MINIMUM + 4 * Math.max(runners, 1)})`,
    };
  }
  return { api, runner };
}
