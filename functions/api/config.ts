import os, { cpus } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_LIMITS, DEFAULT_OUTPUT_LIMITS, type Limits } from '../contract.js';

/** Everything the local server can be configured with (see docs/api-cli.md for the variables). */
export interface ServerConfig {
  host: string;
  port: number;
  apiKeys: string[];
  sandbox: 'bwrap' | 'process';
  /** Process mode: `internet` lets programs open inet sockets (bwrap sandboxes never have a network). */
  network: 'none' | 'internet';
  maxTimeoutMs: number;
  maxBodyBytes: number;
  maxFiles: number;
  maxStdinBytes: number;
  concurrency: number;
  queueSize: number;
  /** Requests whose worst-case duration exceeds this run in the background (202); null: never. */
  syncBudgetMs: number | null;
  /** Expected compile time added to a compiled runtime's timeout when comparing with the budget. */
  compileAllowanceMs: number;
  outputLimitBytes: number;
  compileTimeoutMs: number;
  memoryMb: number;
  pidsMax: number;
  /** Sandboxes prepared ahead of requests; null: concurrency + 1. */
  poolSize: number | null;
  resultTtlMs: number;
  maxStoredResults: number;
  shutdownGraceMs: number;
  /** Where background executions and the server's secret are kept; null: in memory (nothing survives a restart). */
  dataDir: string | null;
  /** Free MiB the work root keeps beyond a request's files; below it executions get 503 capacity. */
  minFreeMb: number;
  /** What one execution may write, MiB: its workspace is a tmpfs of that size (as root); 0: plain directories. */
  workspaceMb: number;
  /** Files a request's `outputs` bring back, at most. */
  maxOutputFiles: number;
  /** Bytes of one returned file; a larger one is listed without content. */
  maxOutputFileBytes: number;
  /** Bytes of all returned files' content. */
  maxOutputTotalBytes: number;
}

/** A configuration value is unusable; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema.optional());

const EnvSchema = z.object({
  HOST: optional(z.string().trim()),
  PORT: optional(int(0, 65535)),
  RUNTOOLS_API_KEYS: optional(z.string()),
  RUNTOOLS_SANDBOX: optional(z.enum(['bwrap', 'process'], { message: 'must be bwrap or process' })),
  RUNTOOLS_NETWORK: optional(z.enum(['none', 'internet'], { message: 'must be none or internet' })),
  RUNTOOLS_MAX_TIMEOUT_MS: optional(int(1)),
  RUNTOOLS_MAX_BODY_BYTES: optional(int(1024)),
  RUNTOOLS_MAX_FILES: optional(int(1)),
  RUNTOOLS_MAX_STDIN_BYTES: optional(int(0)),
  RUNTOOLS_CONCURRENCY: optional(int(1, 1024)),
  RUNTOOLS_QUEUE_SIZE: optional(int(0)),
  RUNTOOLS_SYNC_BUDGET_MS: optional(int(1)),
  RUNTOOLS_COMPILE_ALLOWANCE_MS: optional(int(0)),
  RUNTOOLS_OUTPUT_LIMIT_BYTES: optional(int(1024)),
  RUNTOOLS_COMPILE_TIMEOUT_MS: optional(int(1000)),
  RUNTOOLS_MEMORY_MB: optional(int(16)),
  RUNTOOLS_PIDS_MAX: optional(int(8)),
  RUNTOOLS_POOL_SIZE: optional(int(0, 256)),
  RUNTOOLS_RESULT_TTL_MS: optional(int(1000)),
  RUNTOOLS_MAX_STORED_RESULTS: optional(int(1)),
  RUNTOOLS_SHUTDOWN_GRACE_MS: optional(int(0)),
  RUNTOOLS_DATA_DIR: optional(z.string().trim()),
  RUNTOOLS_MIN_FREE_MB: optional(int(0)),
  RUNTOOLS_WORKSPACE_MB: optional(int(0)),
  RUNTOOLS_MAX_OUTPUT_FILES: optional(int(1, 100_000)),
  RUNTOOLS_MAX_OUTPUT_FILE_BYTES: optional(int(0)),
  RUNTOOLS_MAX_OUTPUT_TOTAL_BYTES: optional(int(0)),
});

/** Where `npm start` keeps its data unless RUNTOOLS_DATA_DIR says: /var/lib/runtools as root, else the XDG state folder. */
export function defaultDataDir(env: Record<string, string | undefined> = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/runtools';
  return path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local/state'), 'runtools');
}

/** The built-in defaults, before any environment variable. */
export function defaultConfig(): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 8787,
    apiKeys: [],
    sandbox: 'bwrap',
    network: 'none',
    maxTimeoutMs: DEFAULT_LIMITS.maxTimeoutMs,
    maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes,
    maxFiles: DEFAULT_LIMITS.maxFiles,
    maxStdinBytes: DEFAULT_LIMITS.maxStdinBytes,
    concurrency: Math.max(1, cpus().length),
    queueSize: 100,
    syncBudgetMs: null,
    compileAllowanceMs: 10_000,
    outputLimitBytes: 1024 * 1024,
    compileTimeoutMs: 60_000,
    memoryMb: 512,
    pidsMax: 64,
    poolSize: null,
    resultTtlMs: 600_000,
    maxStoredResults: 10_000,
    shutdownGraceMs: 30_000,
    dataDir: null,
    minFreeMb: 32,
    workspaceMb: 1024,
    maxOutputFiles: DEFAULT_OUTPUT_LIMITS.maxFiles,
    maxOutputFileBytes: DEFAULT_OUTPUT_LIMITS.maxFileBytes,
    maxOutputTotalBytes: DEFAULT_OUTPUT_LIMITS.maxTotalBytes,
  };
}

/** Reads and validates the configuration from environment variables; throws ConfigError naming the bad one. */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const value = env[name] ?? '';
    throw new ConfigError(`invalid ${name}=${JSON.stringify(value.slice(0, 100))}: ${issue.message}`);
  }
  const e = parsed.data;
  const d = defaultConfig();
  return {
    host: e.HOST || d.host,
    port: e.PORT ?? d.port,
    apiKeys: parseKeys(e.RUNTOOLS_API_KEYS),
    sandbox: e.RUNTOOLS_SANDBOX ?? d.sandbox,
    network: e.RUNTOOLS_NETWORK ?? d.network,
    maxTimeoutMs: e.RUNTOOLS_MAX_TIMEOUT_MS ?? d.maxTimeoutMs,
    maxBodyBytes: e.RUNTOOLS_MAX_BODY_BYTES ?? d.maxBodyBytes,
    maxFiles: e.RUNTOOLS_MAX_FILES ?? d.maxFiles,
    maxStdinBytes: e.RUNTOOLS_MAX_STDIN_BYTES ?? d.maxStdinBytes,
    concurrency: e.RUNTOOLS_CONCURRENCY ?? d.concurrency,
    queueSize: e.RUNTOOLS_QUEUE_SIZE ?? d.queueSize,
    syncBudgetMs: e.RUNTOOLS_SYNC_BUDGET_MS ?? d.syncBudgetMs,
    compileAllowanceMs: e.RUNTOOLS_COMPILE_ALLOWANCE_MS ?? d.compileAllowanceMs,
    outputLimitBytes: e.RUNTOOLS_OUTPUT_LIMIT_BYTES ?? d.outputLimitBytes,
    compileTimeoutMs: e.RUNTOOLS_COMPILE_TIMEOUT_MS ?? d.compileTimeoutMs,
    memoryMb: e.RUNTOOLS_MEMORY_MB ?? d.memoryMb,
    pidsMax: e.RUNTOOLS_PIDS_MAX ?? d.pidsMax,
    poolSize: e.RUNTOOLS_POOL_SIZE ?? d.poolSize,
    resultTtlMs: e.RUNTOOLS_RESULT_TTL_MS ?? d.resultTtlMs,
    maxStoredResults: e.RUNTOOLS_MAX_STORED_RESULTS ?? d.maxStoredResults,
    shutdownGraceMs: e.RUNTOOLS_SHUTDOWN_GRACE_MS ?? d.shutdownGraceMs,
    dataDir: e.RUNTOOLS_DATA_DIR || defaultDataDir(env),
    minFreeMb: e.RUNTOOLS_MIN_FREE_MB ?? d.minFreeMb,
    workspaceMb: e.RUNTOOLS_WORKSPACE_MB ?? d.workspaceMb,
    maxOutputFiles: e.RUNTOOLS_MAX_OUTPUT_FILES ?? d.maxOutputFiles,
    maxOutputFileBytes: e.RUNTOOLS_MAX_OUTPUT_FILE_BYTES ?? d.maxOutputFileBytes,
    maxOutputTotalBytes: e.RUNTOOLS_MAX_OUTPUT_TOTAL_BYTES ?? d.maxOutputTotalBytes,
  };
}

function parseKeys(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
}

/** The request limits a configuration implies (the default timeout never exceeds the maximum). */
export function limitsOf(config: Pick<ServerConfig, 'maxTimeoutMs' | 'maxBodyBytes' | 'maxFiles' | 'maxStdinBytes' | 'memoryMb'>): Limits {
  return {
    maxBodyBytes: config.maxBodyBytes,
    maxFiles: config.maxFiles,
    maxStdinBytes: config.maxStdinBytes,
    maxTimeoutMs: config.maxTimeoutMs,
    defaultTimeoutMs: Math.min(DEFAULT_LIMITS.defaultTimeoutMs, config.maxTimeoutMs),
    maxMemoryMb: config.memoryMb,
  };
}

/** The bounds of files out (a request's `outputs`) a configuration implies, for the runner. */
export function outputBoundsOf(config: Pick<ServerConfig, 'maxOutputFiles' | 'maxOutputFileBytes' | 'maxOutputTotalBytes'>) {
  return { maxFiles: config.maxOutputFiles, maxFileBytes: config.maxOutputFileBytes, maxTotalBytes: config.maxOutputTotalBytes };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || /^::ffff:127(\.\d{1,3}){3}$/.test(h);
}

/** Refuses a configuration that would expose code execution to the network without keys. */
export function assertSafeBinding(config: Pick<ServerConfig, 'host' | 'apiKeys'>): void {
  if (config.apiKeys.length === 0 && !isLoopback(config.host)) {
    throw new ConfigError(
      `refusing to listen on HOST=${config.host} without authentication: anyone who can reach it could run code here. ` +
        'Set RUNTOOLS_API_KEYS=<key>[,<key>...] or bind to a loopback address (HOST=127.0.0.1).',
    );
  }
}
