/**
 * Background executions on AWS live as objects under `executions/<id>/` in the results bucket:
 * `request.json` (a request too big to pass inline), `meta.json` (owner, backend, deadline) and
 * `result.json` (the outcome, created exactly once by the runner through a presigned URL). Both
 * AWS backends (Lambda and Fargate) keep them the same way.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';
import { ExecuteResultSchema, type Execution, type ValidExecuteRequest } from '../contract.js';
import { BackendError } from './types.js';

export const MetaSchema = z.object({
  tenant: z.string(),
  runtime: z.string(),
  createdAt: z.string(),
  /** Which backend runs it; absent in objects written before the Lambda backend kept any. */
  backend: z.enum(['lambda', 'task']).default('task'),
  /** Fargate: the task to ask for its state. */
  taskArn: z.string().optional(),
  /** Lambda: past this instant (ms) without a result, the invocation is over and failed. */
  deadline: z.number().optional(),
});
export type Meta = z.input<typeof MetaSchema>;

/** What a runner stores as `result.json`. */
export const OutcomeSchema = z.union([
  z.object({ result: ExecuteResultSchema }),
  z.object({ error: z.object({ code: z.string(), message: z.string() }) }),
]);
export type Outcome = z.input<typeof OutcomeSchema>;

const ID = /^[A-Za-z0-9_-]{16,64}$/;

const key = (id: string, name: 'meta' | 'request' | 'result') => `executions/${id}/${name}.json`;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

export interface ExecutionObjectsOptions {
  /** Must be created with `requestChecksumCalculation: 'WHEN_REQUIRED'` (presigned uploads). */
  s3: S3Client;
  bucket: string;
  log: (entry: Record<string, unknown>) => void;
}

export class ExecutionObjects {
  constructor(private readonly options: ExecutionObjectsOptions) {}

  /** A fresh execution id (also the object prefix). */
  static newId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** Stores the request and returns a URL to read it back for `seconds`. */
  async putRequest(id: string, request: ValidExecuteRequest, seconds: number, requestId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const { s3, bucket } = this.options;
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(id, 'request'), Body: JSON.stringify({ ...extra, request }), ContentType: 'application/json' }));
    } catch (err) {
      this.options.log({ level: 'error', msg: 'storing the request failed', requestId, error: (err as Error).message });
      throw new BackendError('the request could not be stored', 503, { cause: err });
    }
    return getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key(id, 'request') }), { expiresIn: seconds });
  }

  /** A URL that can create the result object once (If-None-Match: *), for `seconds`, signed by `signer` (default: our client). */
  async resultUrl(id: string, seconds: number, signer: S3Client = this.options.s3): Promise<string> {
    const url = await getSignedUrl(signer, new PutObjectCommand({ Bucket: this.options.bucket, Key: key(id, 'result'), IfNoneMatch: '*' }), {
      expiresIn: seconds,
    });
    if (/[?&]x-amz-checksum-/i.test(url)) {
      // The client computes checksums by default: the URL would only accept an empty body.
      throw new BackendError('the S3 client must be created with requestChecksumCalculation: WHEN_REQUIRED', 500);
    }
    return url;
  }

  async putMeta(id: string, meta: Meta, requestId: string): Promise<void> {
    try {
      await this.options.s3.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key(id, 'meta'), Body: JSON.stringify(meta), ContentType: 'application/json' }),
      );
    } catch (err) {
      this.options.log({ level: 'error', msg: 'storing the execution metadata failed', requestId, error: (err as Error).message });
      throw new BackendError('the execution could not be recorded', 503, { cause: err });
    }
  }

  /** Stores the outcome of an execution the API itself finished (created once, as a runner's through its URL). */
  async putOutcome(id: string, outcome: Outcome, requestId: string): Promise<void> {
    try {
      await this.options.s3.send(
        new PutObjectCommand({ Bucket: this.options.bucket, Key: key(id, 'result'), Body: JSON.stringify(outcome), ContentType: 'application/json', IfNoneMatch: '*' }),
      );
    } catch (err) {
      // Already there (a retry whose first attempt landed): the outcome is stored, as a runner's PUT treats 412.
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) return;
      this.options.log({ level: 'error', msg: 'storing the outcome failed', requestId, executionId: id, error: (err as Error).message });
      throw new BackendError('the outcome could not be stored', 503, { cause: err });
    }
  }

  /** The execution's metadata when `id` is well-formed, exists and belongs to `tenant`; else null (→ 404). */
  async meta(id: string, tenant: string): Promise<z.output<typeof MetaSchema> | null> {
    if (!ID.test(id)) return null;
    const json = await this.readJson(key(id, 'meta'));
    const meta = json === null ? null : MetaSchema.safeParse(json);
    return meta?.success && meta.data.tenant === tenant ? meta.data : null;
  }

  /** The finished execution from its result object, or null while there is none. */
  async outcome(id: string): Promise<Execution | null> {
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
      this.options.log({ level: 'error', msg: 'reading from the results bucket failed', key: objectKey, error: (err as Error).message });
      throw new BackendError('the execution status is unavailable', 503, { cause: err });
    }
  }
}
