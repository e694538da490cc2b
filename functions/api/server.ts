import { LocalIdempotency } from '../dispatch/idempotency.js';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { LocalDispatcher } from '../dispatch/local.js';
import { ExecutionStore, StoreError } from '../dispatch/store.js';
import { createRunner, type Runner } from '../runner/index.js';
import { defaultWorkRoot } from '../runner/paths.js';
import { sweepLeftovers } from '../runner/sweep.js';
import { createApp, type RuntoolsApp } from './app.js';
import { assertSafeBinding, ConfigError, defaultConfig, limitsOf, loadConfig, outputBoundsOf, type ServerConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { apiKeyAuthenticator } from './middleware/auth.js';

/**
 * How long past its grace period a stopping server waits for in-flight executions, killing them,
 * and its own cleanup, before it exits anyway (status 1): something wedged must not keep it up.
 */
export const SHUTDOWN_MARGIN_MS = 5_000;

/** Files and folders one execution may create in its workspace (with RUNTOOLS_WORKSPACE_MB). */
const WORKSPACE_INODES = 65_536;

export interface StartServerOptions {
  /** Overrides on top of the defaults (not of the environment: pass loadConfig() for that). */
  config?: Partial<ServerConfig>;
  log?: Logger;
  /** A ready runner (else one is created and its sandbox checked). */
  runner?: Runner;
}

export interface RunningServer {
  url: string;
  port: number;
  config: ServerConfig;
  app: RuntoolsApp;
  dispatcher: LocalDispatcher;
  /** Stops accepting connections, finishes in-flight executions (bounded by shutdownGraceMs), closes. */
  close(): Promise<void>;
}

/** Starts the local API on config.host:config.port (port 0 picks a free one). */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const config: ServerConfig = { ...defaultConfig(), ...options.config };
  const log = options.log ?? createLogger();
  assertSafeBinding(config);
  // What a server that crashed left (workspaces, cgroups) goes before this one starts; live ones' stay.
  const swept = await sweepLeftovers(defaultWorkRoot());
  if (swept.workspaces + swept.cgroups > 0) log.info({ msg: 'removed what a stopped server left', ...swept });
  const store = new ExecutionStore(config.dataDir);
  if (config.sandbox === 'process') {
    log.warn({ msg: 'RUNTOOLS_SANDBOX=process: executions run as plain processes under the seccomp filter and rlimits, without namespaces; use bwrap for untrusted code' });
  }
  let runner: Runner;
  try {
    runner =
    options.runner ??
    (await createRunner({
      sandbox: config.sandbox,
      network: config.network === 'internet',
      outputLimitBytes: config.outputLimitBytes,
      compileTimeoutMs: config.compileTimeoutMs,
      limits: { memoryBytes: config.memoryMb * 1024 * 1024, pids: config.pidsMax },
      poolSize: config.poolSize ?? config.concurrency + 1,
      minFreeBytes: config.minFreeMb * 1024 * 1024,
      workspaceQuota: config.workspaceMb > 0 ? { bytes: config.workspaceMb * 1024 * 1024, inodes: WORKSPACE_INODES } : null,
      outputBounds: outputBoundsOf(config),
    }));
  } catch (err) {
    store.close();
    throw err;
  }
  const dispatcher = new LocalDispatcher({
    runner,
    store,
    concurrency: config.concurrency,
    queueSize: config.queueSize,
    syncBudgetMs: config.syncBudgetMs,
    compileAllowanceMs: config.compileAllowanceMs,
    resultTtlMs: config.resultTtlMs,
    maxStoredResults: config.maxStoredResults,
    shutdownGraceMs: config.shutdownGraceMs,
    onError: (error, id) =>
      log.error({ msg: 'background execution failed', executionId: id, detail: error instanceof Error ? error.message : String(error) }),
  });
  const app = createApp({
    dispatcher,
    authenticate: apiKeyAuthenticator(config.apiKeys, store.secret()),
    limits: limitsOf(config),
    log,
    // Idempotency-Key answers are kept as long as background results are.
    idempotency: new LocalIdempotency(store, config.resultTtlMs),
  });
  const server = await listen(app, config.host, config.port);
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(config.host)}:${port}`,
    port,
    config,
    app,
    dispatcher,
    // A runner this server created is closed with it (its prepared sandboxes stop).
    close: () =>
      (closing ??= shutdown(server, dispatcher)
        .then(() => (options.runner ? undefined : runner.close()))
        .finally(() => store.close())),
  };
}

function listen(app: RuntoolsApp, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
    // Idle keep-alive connections outlive the client's and any load balancer's idle timeout (60 s
    // on ALB): the client drops a connection before the server does, never while reusing it.
    if ('keepAliveTimeout' in server) {
      server.keepAliveTimeout = 65_000;
      server.headersTimeout = 66_000;
    }
  });
}

/**
 * Stops taking executions (they get 503 capacity) while polls and in-flight requests are still
 * answered, until the dispatcher is done (its grace period at most); then closes the listener.
 */
async function shutdown(server: ServerType, dispatcher: LocalDispatcher): Promise<void> {
  await dispatcher.close();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if ('closeIdleConnections' in server) server.closeIdleConnections();
  if ('closeAllConnections' in server) setTimeout(() => server.closeAllConnections(), 1000).unref();
  await closed;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Runs the server the way `npm start` and `runtools serve` do: configuration from the environment,
 * one log line on start, graceful shutdown on SIGTERM/SIGINT. Exits non-zero when it cannot start.
 */
export async function serveFromEnv(env: Record<string, string | undefined> = process.env, overrides: Partial<ServerConfig> = {}): Promise<void> {
  const log = createLogger();
  let running: RunningServer;
  try {
    const config = { ...loadConfig(env), ...overrides };
    running = await startServer({ config, log });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`runtools: cannot start the server: ${message}\n`);
    process.exit(error instanceof ConfigError || error instanceof StoreError ? 2 : 1);
  }
  const { config } = running;
  log.info({
    msg: 'listening',
    url: running.url,
    auth: config.apiKeys.length > 0 ? `${config.apiKeys.length} API key(s)` : 'none (loopback only)',
    sandbox: config.sandbox,
    concurrency: config.concurrency,
    queueSize: config.queueSize,
    syncBudgetMs: config.syncBudgetMs,
    dataDir: config.dataDir ?? '(memory)',
    docs: `${running.url}/docs`,
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ msg: 'second signal: exiting without waiting', signal });
      process.exit(1);
    }
    stopping = true;
    log.info({ msg: 'shutting down', signal, graceMs: config.shutdownGraceMs });
    const deadline = setTimeout(() => {
      log.error({ msg: 'shutdown did not finish in time: exiting', graceMs: config.shutdownGraceMs, marginMs: SHUTDOWN_MARGIN_MS });
      process.exit(1);
    }, config.shutdownGraceMs + SHUTDOWN_MARGIN_MS);
    deadline.unref();
    running.close().then(
      () => {
        log.info({ msg: 'stopped' });
        process.exit(0);
      },
      (error: unknown) => {
        log.error({ msg: 'shutdown failed', detail: error instanceof Error ? error.message : String(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) void serveFromEnv();
