/**
 * Idempotency keys for POST /v1/execute (API.md "Idempotency"): the same key with the same
 * validated request, from the same tenant, while the first response is kept, answers that
 * response (its 200 result or its 202 id) without running the program again; a duplicate that
 * arrives while the first runs waits for it; the same key with another request is a 422. Only
 * 200 and 202 answers are kept: after an error the key is free and a retry runs the request.
 * Locally the keys live in the server's SQLite store, on AWS in the results bucket.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ValidExecuteRequest } from '../contract.js';
import type { Claim, ExecutionStore, StoredResponse } from './store.js';
import { CapacityError } from './types.js';

export type { Claim, StoredResponse };

/** The header, and what a key may be: 1–255 visible ASCII characters. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The same key with a different request (→ 422 idempotency_mismatch). */
export class IdempotencyMismatchError extends Error {
  constructor() {
    super('this Idempotency-Key was used with a different request; use a new key for a new request');
    this.name = 'IdempotencyMismatchError';
  }
}

/** Where keys, fingerprints and kept responses live. */
export interface IdempotencyStore {
  claim(owner: string, key: string, fingerprint: string): Promise<Claim>;
  complete(owner: string, key: string, fingerprint: string, response: StoredResponse): Promise<void>;
  release(owner: string, key: string): Promise<void>;
}

/** JSON with object keys sorted at every level: equal requests, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fingerprint of a validated request (defaults applied, aliases resolved). */
export function fingerprintOf(request: ValidExecuteRequest): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/**
 * Runs `run` once per (owner, key): the first caller runs it and keeps a 200/202 response; later
 * callers with the same fingerprint get that response (`replayed`), waiting while it runs (at
 * most `maxWaitMs`, then 503 with Retry-After).
 */
export async function runOnce(
  store: IdempotencyStore,
  claim: { owner: string; key: string; fingerprint: string },
  run: () => Promise<StoredResponse>,
  options: { maxWaitMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<{ response: StoredResponse; replayed: boolean }> {
  const deadline = Date.now() + options.maxWaitMs;
  for (;;) {
    const found = await store.claim(claim.owner, claim.key, claim.fingerprint);
    if (found.state === 'mismatch') throw new IdempotencyMismatchError();
    if (found.state === 'done') return { response: found.response, replayed: true };
    if (found.state === 'claimed') {
      let response: StoredResponse;
      try {
        response = await run();
      } catch (err) {
        await store.release(claim.owner, claim.key).catch(() => {});
        throw err;
      }
      if (response.status === 200 || response.status === 202) await store.complete(claim.owner, claim.key, claim.fingerprint, response);
      else await store.release(claim.owner, claim.key);
      return { response, replayed: false };
    }
    if (Date.now() > deadline) throw new CapacityError('the first request with this Idempotency-Key is still running', 5);
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
  }
}

/** The local server's keys: rows of its store, kept as long as background results are. */
export class LocalIdempotency implements IdempotencyStore {
  constructor(
    private readonly store: ExecutionStore,
    private readonly ttlMs: number,
  ) {
    // Keys whose request was cut off by a stop: the program may have run, so a retry does not run it again.
    store.interruptKeys(
      { status: 500, body: { error: { code: 'internal', message: 'the first request with this Idempotency-Key was cut off when the server stopped; it may have run: use a new key to run it again' } } },
      ttlMs,
    );
  }

  async claim(owner: string, key: string, fingerprint: string): Promise<Claim> {
    this.store.sweepKeys();
    return this.store.claimKey(owner, key, fingerprint, this.ttlMs);
  }

  async complete(owner: string, key: string, _fingerprint: string, response: StoredResponse): Promise<void> {
    this.store.completeKey(owner, key, response, this.ttlMs);
  }

  async release(owner: string, key: string): Promise<void> {
    this.store.releaseKey(owner, key);
  }
}

interface S3Record {
  fingerprint: string;
  response?: StoredResponse;
}

/**
 * Keys on AWS: one object per (tenant, key) under `idempotency/` in the results bucket, created
 * only if absent (If-None-Match: *, so two API functions cannot both claim it), then replaced
 * with the response; the bucket's lifecycle expires them with the results.
 */
export class S3Idempotency implements IdempotencyStore {
  constructor(private readonly options: { s3: S3Client; bucket: string }) {}

  private objectKey(owner: string, key: string): string {
    const h = (s: string) => createHash('sha256').update(s).digest('hex');
    return `idempotency/${h(owner).slice(0, 32)}/${h(key)}.json`;
  }

  async claim(owner: string, key: string, fingerprint: string): Promise<Claim> {
    const { s3, bucket } = this.options;
    const Key = this.objectKey(owner, key);
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: JSON.stringify({ fingerprint } satisfies S3Record), ContentType: 'application/json', IfNoneMatch: '*' }));
      return { state: 'claimed' };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'PreconditionFailed' && e.$metadata?.httpStatusCode !== 412 && e.$metadata?.httpStatusCode !== 409) throw err;
    }
    let record: S3Record;
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      record = JSON.parse(await out.Body!.transformToString()) as S3Record;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // Released between the two calls: claim again.
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return this.claim(owner, key, fingerprint);
      throw err;
    }
    if (record.fingerprint !== fingerprint) return { state: 'mismatch' };
    return record.response ? { state: 'done', response: record.response } : { state: 'running' };
  }

  async complete(owner: string, key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    const { s3, bucket } = this.options;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: this.objectKey(owner, key), Body: JSON.stringify({ fingerprint, response } satisfies S3Record), ContentType: 'application/json' }),
    );
  }

  async release(owner: string, key: string): Promise<void> {
    await this.options.s3.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(owner, key) }));
  }
}
