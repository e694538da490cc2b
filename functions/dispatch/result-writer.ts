/**
 * Presigned URLs live only as long as the credentials that signed them: signed with the API
 * function's own session, a task's result URL could die before the task ends. A Fargate task's
 * URL is therefore signed with a fresh session of a role that may only create result objects
 * (AWS::IAM::Role `ResultWriter` in the stack), asked for an hour, the longest a session assumed
 * from another role's session can last ("role chaining": docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html).
 * The stack refuses a `maxTimeoutMs` that a task could not finish, started, within that hour.
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { S3Client } from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@aws-sdk/types';

/** The session asked for: the most role chaining allows. */
export const RESULT_WRITER_SESSION_SECONDS = 3600;
/** A session is reused this long, so every URL it signs stays valid for 59 minutes at least. */
const REUSE_MS = 60_000;

export interface ResultWriterOptions {
  sts: STSClient;
  roleArn: string;
  /** An S3 client like the dispatcher's, signing with the given credentials. */
  s3With(credentials: AwsCredentialIdentity): S3Client;
}

export class ResultWriter {
  private session: Promise<{ s3: S3Client; expires: number; at: number }> | undefined;

  constructor(private readonly options: ResultWriterOptions) {}

  /** A client signing with a session valid for at least `validMs` more. */
  async signer(): Promise<{ s3: S3Client; validMs: number }> {
    let current = this.session ? await this.session.catch(() => undefined) : undefined;
    if (!current || Date.now() - current.at > REUSE_MS) {
      this.session = this.assume();
      current = await this.session;
    }
    return { s3: current.s3, validMs: current.expires - Date.now() };
  }

  private async assume() {
    const at = Date.now();
    const out = await this.options.sts.send(
      new AssumeRoleCommand({ RoleArn: this.options.roleArn, RoleSessionName: `runtools-results-${at}`, DurationSeconds: RESULT_WRITER_SESSION_SECONDS }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('AssumeRole returned no credentials');
    const expires = c.Expiration ? new Date(c.Expiration).getTime() : at + RESULT_WRITER_SESSION_SECONDS * 1000;
    return {
      s3: this.options.s3With({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: new Date(expires) }),
      expires,
      at,
    };
  }
}
