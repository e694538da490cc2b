/**
 * Request bodies through S3, for the API on AWS. API Gateway hands the body to the function inside
 * a JSON event, escaped: a quote becomes two bytes, a control character six, and Lambda refuses
 * an event over 6 MB (docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). So a body
 * the local server takes (6 MiB) may never reach the function. Such a body is uploaded first:
 *
 *   POST /v1/uploads {"size": N}  → 201 {id, url, method: "PUT", headers, expiresAt}
 *   PUT <url> (exactly N bytes: the length is signed)
 *   POST /v1/execute, header `x-runtools-upload: <id>`, no body → as if the body had been sent
 *
 * An upload belongs to the API key that made it, is read once and then deleted, and expires
 * (the bucket's lifecycle removes what was never used). The SDK does this by itself.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { z } from 'zod';

export const UPLOAD_HEADER = 'x-runtools-upload';
/** How long an upload URL is valid, s. */
export const UPLOAD_URL_SECONDS = 900;

const ID = /^[A-Za-z0-9_-]{22}$/;

export const UploadRequestSchema = z.object({ size: z.number().int().min(1) }).strict();

export interface Upload {
  id: string;
  url: string;
  method: 'PUT';
  /** Send exactly these headers with the PUT (the length is part of the signature). */
  headers: Record<string, string>;
  expiresAt: string;
}

/** Why an upload could not be used (→ 400). */
export class UploadError extends Error {}

export interface UploadsOptions {
  /** Created with `requestChecksumCalculation: 'WHEN_REQUIRED'` (presigned uploads). */
  s3: S3Client;
  bucket: string;
  maxBytes: number;
}

export class Uploads {
  constructor(private readonly options: UploadsOptions) {}

  /** The object of an upload: under the owner's (hashed) key id, so another key can never name it. */
  private key(owner: string, id: string): string {
    const scope = createHash('sha256').update(owner).digest('hex').slice(0, 32);
    return `uploads/${scope}/${id}.json`;
  }

  async create(owner: string, size: number, now = Date.now()): Promise<Upload> {
    if (size > this.options.maxBytes) throw new UploadError(`size must be at most ${this.options.maxBytes} bytes (the largest request body)`);
    const id = randomBytes(16).toString('base64url');
    const command = new PutObjectCommand({
      Bucket: this.options.bucket,
      Key: this.key(owner, id),
      ContentLength: size,
      ContentType: 'application/json',
      IfNoneMatch: '*',
    });
    // content-length and content-type are signed: S3 refuses a PUT of another length (no upload
    // larger than declared), and If-None-Match makes the URL good for one object only.
    const url = await getSignedUrl(this.options.s3, command, {
      expiresIn: UPLOAD_URL_SECONDS,
      signableHeaders: new Set(['content-length', 'content-type']),
    });
    return {
      id,
      url,
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'content-length': String(size), 'if-none-match': '*' },
      expiresAt: new Date(now + UPLOAD_URL_SECONDS * 1000).toISOString(),
    };
  }

  /** The uploaded body, read once: the object is deleted. UploadError when there is none. */
  async take(owner: string, id: string): Promise<string> {
    if (!ID.test(id)) throw new UploadError(`${UPLOAD_HEADER} must be an upload id from POST /v1/uploads`);
    const { s3, bucket, maxBytes } = this.options;
    const Key = this.key(owner, id);
    let text: string;
    try {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
      if ((out.ContentLength ?? 0) > maxBytes) throw new UploadError(`the upload is larger than ${maxBytes} bytes`);
      text = await out.Body!.transformToString('utf8');
    } catch (err) {
      if (err instanceof UploadError) throw err;
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
        throw new UploadError(`no upload ${id} (an upload is used once and expires ${UPLOAD_URL_SECONDS / 60} minutes after it was created)`);
      }
      throw err;
    }
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key })).catch(() => {
      // The bucket's lifecycle removes it later; the body has been read.
    });
    return text;
  }
}
