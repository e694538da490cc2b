/**
 * The local server's durable store (SQLite through better-sqlite3, one file in the data
 * directory): background executions with their owner, status and result, the request of each
 * one still queued (dropped once it runs), and the server's secret. A restarted server answers
 * every id it issued while the id is retained, and runs what was queued.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ExecuteResult, Execution, ValidExecuteRequest } from '../contract.js';

/** A failed execution's reason (API.md: `error` of GET /v1/executions/{id}). */
export interface ExecutionError {
  code: string;
  message: string;
}

/** A background execution that was queued when the last server stopped: it runs again. */
export interface QueuedExecution {
  id: string;
  owner: string;
  request: ValidExecuteRequest;
}

/** The data directory cannot be used (another server holds it, or it is not writable). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Schema versions, applied in order; PRAGMA user_version says how many a database has. */
const MIGRATIONS = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
   CREATE TABLE executions (
     id TEXT PRIMARY KEY,
     owner TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
     request TEXT,
     result TEXT,
     error TEXT,
     created_at INTEGER NOT NULL,
     finished_at INTEGER,
     expires_at INTEGER
   );
   CREATE INDEX executions_expiry ON executions (expires_at) WHERE expires_at IS NOT NULL;
   CREATE INDEX executions_finished ON executions (finished_at) WHERE finished_at IS NOT NULL;`,
  // Idempotency keys (API.md "Idempotency"): a request's fingerprint, then its stored response.
  `CREATE TABLE idempotency (
     owner TEXT NOT NULL,
     key TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     response TEXT,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (owner, key)
   );
   CREATE INDEX idempotency_expiry ON idempotency (expires_at);`,
];

/** A response kept for an idempotency key: its status, body and Location. */
export interface StoredResponse {
  status: number;
  body: unknown;
  location?: string;
}

/** What claiming an idempotency key found. */
export type Claim =
  | { state: 'claimed' }
  | { state: 'running' }
  | { state: 'mismatch' }
  | { state: 'done'; response: StoredResponse };

const FILE = 'runtools.db';

type Row = { id: string; owner: string; status: Execution['status']; request: string | null; result: string | null; error: string | null };

export class ExecutionStore {
  private readonly db: Database.Database;
  private readonly statements;

  /**
   * Opens (creating) the store in `dir`, or an in-memory one for `null` (nothing survives the
   * process: for tests and embedded use). One server per directory: a second one is refused.
   */
  constructor(readonly dir: string | null) {
    let db: Database.Database;
    const file = dir === null ? ':memory:' : path.join(dir, FILE);
    try {
      if (dir !== null) mkdirSync(dir, { recursive: true, mode: 0o700 });
      db = new Database(file, { timeout: 1000 });
    } catch (err) {
      throw new StoreError(`cannot open the data directory ${dir}: ${(err as Error).message}`, { cause: err });
    }
    try {
      // Exclusive: the lock is taken now and held while this server runs (WAL then needs no shared memory file).
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
    } catch (err) {
      db.close();
      const busy = (err as { code?: string }).code === 'SQLITE_BUSY';
      throw new StoreError(
        busy ? `the data directory ${dir} is in use by another runtools server (set RUNTOOLS_DATA_DIR to another directory)` : `cannot use ${file}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.db = db;
    this.migrate();
    this.statements = {
      insert: db.prepare(`INSERT INTO executions (id, owner, status, request, created_at) VALUES (?, ?, 'queued', ?, ?)`),
      running: db.prepare(`UPDATE executions SET status = 'running', request = NULL WHERE id = ? AND status = 'queued'`),
      finish: db.prepare(
        `UPDATE executions SET status = @status, request = NULL, result = @result, error = @error, finished_at = @now, expires_at = @expires WHERE id = @id`,
      ),
      get: db.prepare(`SELECT id, owner, status, request, result, error FROM executions WHERE id = ? AND (expires_at IS NULL OR expires_at > ?)`),
      queued: db.prepare(`SELECT id, owner, request FROM executions WHERE status = 'queued' ORDER BY created_at, rowid`),
      interrupt: db.prepare(
        `UPDATE executions SET status = 'failed', request = NULL, error = @error, finished_at = @now, expires_at = @expires WHERE status = 'running'`,
      ),
      sweep: db.prepare(`DELETE FROM executions WHERE expires_at IS NOT NULL AND expires_at <= ?`),
      count: db.prepare(`SELECT count(*) AS n FROM executions`),
      evict: db.prepare(`DELETE FROM executions WHERE id IN (SELECT id FROM executions WHERE finished_at IS NOT NULL ORDER BY finished_at, rowid LIMIT ?)`),
      claim: db.prepare(`INSERT INTO idempotency (owner, key, fingerprint, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      idem: db.prepare(`SELECT fingerprint, response, expires_at FROM idempotency WHERE owner = ? AND key = ?`),
      expireIdem: db.prepare(`DELETE FROM idempotency WHERE owner = ? AND key = ? AND expires_at <= ?`),
      completeIdem: db.prepare(`UPDATE idempotency SET response = ?, expires_at = ? WHERE owner = ? AND key = ?`),
      releaseIdem: db.prepare(`DELETE FROM idempotency WHERE owner = ? AND key = ? AND response IS NULL`),
      interruptIdem: db.prepare(`UPDATE idempotency SET response = ?, expires_at = ? WHERE response IS NULL`),
      sweepIdem: db.prepare(`DELETE FROM idempotency WHERE expires_at <= ?`),
      meta: db.prepare(`SELECT value FROM meta WHERE key = ?`),
      setMeta: db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`),
    };
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new StoreError(`${this.dir}/${FILE} was written by a newer runtools (schema ${version}); upgrade this server or use another RUNTOOLS_DATA_DIR`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  /**
   * The server's secret (32 random bytes, made once and kept with the data): keys the hash that
   * names tenants, so ids in logs cannot be traced back to API keys, and owners survive restarts.
   */
  secret(): Buffer {
    this.statements.setMeta.run('secret', randomBytes(32));
    return (this.statements.meta.get('secret') as { value: Buffer }).value;
  }

  /** Records a background execution accepted to run, with its request until it starts. */
  add(id: string, owner: string, request: ValidExecuteRequest, now = Date.now()): void {
    this.statements.insert.run(id, owner, JSON.stringify(request), now);
  }

  /** The execution started: its request is no longer kept. */
  started(id: string): void {
    this.statements.running.run(id);
  }

  /** Records how an execution ended; it stays readable for `ttlMs`. */
  finish(id: string, end: { status: 'completed'; result: ExecuteResult } | { status: 'failed'; error: ExecutionError }, ttlMs: number, now = Date.now()): void {
    this.statements.finish.run({
      id,
      status: end.status,
      result: end.status === 'completed' ? JSON.stringify(end.result) : null,
      error: end.status === 'failed' ? JSON.stringify(end.error) : null,
      now,
      expires: now + ttlMs,
    });
  }

  /** The execution if it is retained and `owner` made it, else null. */
  get(id: string, owner: string, now = Date.now()): Execution | null {
    const row = this.statements.get.get(id, now) as Row | undefined;
    if (!row || row.owner !== owner) return null;
    return {
      id: row.id,
      status: row.status,
      ...(row.result !== null ? { result: JSON.parse(row.result) as ExecuteResult } : {}),
      ...(row.error !== null ? { error: JSON.parse(row.error) as ExecutionError } : {}),
    };
  }

  /** Background executions waiting to start, oldest first. */
  queued(): QueuedExecution[] {
    return (this.statements.queued.all() as Pick<Row, 'id' | 'owner' | 'request'>[]).map((r) => ({
      id: r.id,
      owner: r.owner,
      request: JSON.parse(r.request ?? '{}') as ValidExecuteRequest,
    }));
  }

  /** Marks every running execution failed with `interrupted` (a server stopped under it); returns how many. */
  interruptRunning(message: string, ttlMs: number, now = Date.now()): number {
    const error: ExecutionError = { code: 'interrupted', message };
    return this.statements.interrupt.run({ error: JSON.stringify(error), now, expires: now + ttlMs }).changes;
  }

  /** Forgets finished executions past their TTL, then the oldest finished ones beyond `max` stored. */
  sweep(max: number, now = Date.now()): void {
    this.statements.sweep.run(now);
    const excess = (this.statements.count.get() as { n: number }).n - max;
    if (excess > 0) this.statements.evict.run(excess);
  }

  count(): number {
    return (this.statements.count.get() as { n: number }).n;
  }

  /**
   * Claims `key` of `owner` for a request with this fingerprint (one transaction): `claimed` when
   * it was free (or expired), `running` / `done` when a request with the same fingerprint has it,
   * `mismatch` when another request does.
   */
  claimKey(owner: string, key: string, fingerprint: string, ttlMs: number, now = Date.now()): Claim {
    return this.db.transaction((): Claim => {
      this.statements.expireIdem.run(owner, key, now);
      if (this.statements.claim.run(owner, key, fingerprint, now + ttlMs).changes === 1) return { state: 'claimed' };
      const row = this.statements.idem.get(owner, key) as { fingerprint: string; response: string | null } | undefined;
      if (!row) return { state: 'claimed' };
      if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
      return row.response === null ? { state: 'running' } : { state: 'done', response: JSON.parse(row.response) as StoredResponse };
    })();
  }

  /** Keeps the response of a claimed key for `ttlMs`. */
  completeKey(owner: string, key: string, response: StoredResponse, ttlMs: number, now = Date.now()): void {
    this.statements.completeIdem.run(JSON.stringify(response), now + ttlMs, owner, key);
  }

  /** Frees a claimed key without a response (the request failed: a retry runs it). */
  releaseKey(owner: string, key: string): void {
    this.statements.releaseIdem.run(owner, key);
  }

  /** Keys still running when a server stopped: their response says so (the program may have run). */
  interruptKeys(response: StoredResponse, ttlMs: number, now = Date.now()): number {
    return this.statements.interruptIdem.run(JSON.stringify(response), now + ttlMs).changes;
  }

  sweepKeys(now = Date.now()): void {
    this.statements.sweepIdem.run(now);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
