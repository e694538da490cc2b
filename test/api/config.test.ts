import { describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, defaultDataDir, limitsOf, loadConfig } from '../../functions/api/config.js';

describe('loadConfig', () => {
  it('uses the documented defaults', () => {
    const config = loadConfig({});
    // The environment's server keeps its data on disk; an embedded one (defaultConfig) in memory.
    expect(config).toEqual({ ...defaultConfig(), dataDir: defaultDataDir({}) });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8787, apiKeys: [], sandbox: 'bwrap', syncBudgetMs: null, maxTimeoutMs: 300_000 });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '9000',
      RUNTOOLS_API_KEYS: ' a , b,,',
      RUNTOOLS_SANDBOX: 'process',
      RUNTOOLS_NETWORK: 'internet',
      RUNTOOLS_MAX_TIMEOUT_MS: '10000',
      RUNTOOLS_MAX_BODY_BYTES: '2048',
      RUNTOOLS_CONCURRENCY: '3',
      RUNTOOLS_QUEUE_SIZE: '0',
      RUNTOOLS_SYNC_BUDGET_MS: '25000',
      RUNTOOLS_OUTPUT_LIMIT_BYTES: '4096',
      RUNTOOLS_COMPILE_TIMEOUT_MS: '20000',
      RUNTOOLS_MEMORY_MB: '256',
      RUNTOOLS_PIDS_MAX: '64',
      RUNTOOLS_RESULT_TTL_MS: '60000',
      RUNTOOLS_DATA_DIR: '/srv/runtools-data',
      RUNTOOLS_MIN_FREE_MB: '100',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      apiKeys: ['a', 'b'],
      sandbox: 'process',
      network: 'internet',
      maxTimeoutMs: 10_000,
      maxBodyBytes: 2048,
      concurrency: 3,
      queueSize: 0,
      syncBudgetMs: 25_000,
      outputLimitBytes: 4096,
      compileTimeoutMs: 20_000,
      memoryMb: 256,
      pidsMax: 64,
      resultTtlMs: 60_000,
      dataDir: '/srv/runtools-data',
      minFreeMb: 100,
    });
    expect(limitsOf(config)).toMatchObject({ maxTimeoutMs: 10_000, defaultTimeoutMs: 10_000, maxBodyBytes: 2048, maxMemoryMb: 256 });
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', RUNTOOLS_SYNC_BUDGET_MS: ' ' })).toMatchObject({ port: 8787, syncBudgetMs: null });
  });

  it.each([
    ['PORT', '70000', /PORT="70000": must be at most 65535/],
    ['PORT', 'eighty', /PORT="eighty": must be a whole number/],
    ['RUNTOOLS_SANDBOX', 'docker', /RUNTOOLS_SANDBOX="docker": must be bwrap or process/],
    ['RUNTOOLS_NETWORK', 'on', /RUNTOOLS_NETWORK="on": must be none or internet/],
    ['RUNTOOLS_CONCURRENCY', '0', /RUNTOOLS_CONCURRENCY="0": must be at least 1/],
    ['RUNTOOLS_MAX_TIMEOUT_MS', '-5', /RUNTOOLS_MAX_TIMEOUT_MS/],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
