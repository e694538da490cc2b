/**
 * The Node.js Lambda runtime's response streaming, for handlers run in this process: the
 * `awslambda` global (`streamifyResponse`, `HttpResponseStream.from`) as the runtime interface
 * client defines it, and the reading side API Gateway applies to a streamed proxy response.
 *
 * `HttpResponseStream.from(stream, prelude)` marks the stream's content type
 * `application/vnd.awslambda.http-integration-response` and writes the prelude as JSON followed
 * by eight NUL bytes before the body (aws-lambda-nodejs-runtime-interface-client,
 * src/HttpResponseStream.js; docs.aws.amazon.com/apigateway/latest/developerguide/
 * response-transfer-mode-lambda.html, "Lambda proxy integration format for response streaming").
 */
import { PassThrough, type Writable } from 'node:stream';
import type { LambdaStreamingRuntime } from '../../../functions/api/lambda.js';

export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);

/** A response stream as the runtime hands it to a streamified handler. */
export class ResponseStream extends PassThrough {
  contentType = 'application/octet-stream';
  setContentType(type: string): void {
    this.contentType = type;
  }
}

/** Installs `globalThis.awslambda` (idempotent). */
export function installStreamingRuntime(): void {
  // The AWS SDK may have made an `awslambda` object already (@aws/lambda-invoke-store): added to.
  const g = globalThis as { awslambda?: Partial<LambdaStreamingRuntime> };
  const target = (g.awslambda ??= {});
  if (typeof target.streamifyResponse === 'function') return;
  Object.assign(target, {
    streamifyResponse: <H>(handler: H) => handler,
    HttpResponseStream: {
      from(stream: Writable, prelude: Record<string, unknown>) {
        (stream as Partial<ResponseStream>).setContentType?.(PRELUDE_CONTENT_TYPE);
        stream.write(JSON.stringify(prelude));
        stream.write(DELIMITER);
        return stream;
      },
    },
  } satisfies LambdaStreamingRuntime);
}

export interface StreamedResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  /** The body after the prelude, as it arrives. */
  body: AsyncIterable<Buffer>;
}

/**
 * API Gateway's side: waits for the prelude and its delimiter, then hands on the rest as it
 * comes. A stream without the integration content type, or whose prelude is not JSON, is a
 * malformed response (API Gateway answers 502).
 */
export async function readStreamedResponse(stream: ResponseStream): Promise<StreamedResponse> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  for (;;) {
    const at = head.indexOf(DELIMITER);
    if (at >= 0) {
      if (stream.contentType !== PRELUDE_CONTENT_TYPE) throw new Error(`a streamed response of type ${stream.contentType}`);
      const prelude = JSON.parse(head.subarray(0, at).toString('utf8')) as {
        statusCode?: number;
        headers?: Record<string, string>;
        multiValueHeaders?: Record<string, string[]>;
      };
      const rest = head.subarray(at + DELIMITER.length);
      const body = (async function* () {
        if (rest.length) yield rest;
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          yield Buffer.from(next.value);
        }
      })();
      return { statusCode: prelude.statusCode ?? 200, headers: { ...prelude.headers, ...prelude.multiValueHeaders }, body };
    }
    const next = await iterator.next();
    if (next.done) throw new Error('the stream ended before its prelude');
    head = Buffer.concat([head, Buffer.from(next.value)]);
  }
}
