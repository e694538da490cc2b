import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface ResultsBucketProps {
  /** Days before a stored request, metadata or result object is deleted. @default 1 */
  expireDays?: number;
  /** @default RemovalPolicy.RETAIN */
  removalPolicy?: RemovalPolicy;
}

/** Requests and results of background executions: private, encrypted, TLS-only, expiring. */
export class ResultsBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ResultsBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'expire-executions', enabled: true, expiration: Duration.days(props.expireDays ?? 1), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    const accessLogs =
      'Objects live for a day and are only ever written and read by the API function (with its role) and by runners (functions and tasks) through presigned URLs; API Gateway access logs and CloudTrail record who asked for what.';
    Validations.of(this.bucket).acknowledge({ id: 'AwsSolutions-S1', reason: accessLogs });
    // AWS Control Tower's proactive controls (test/infra/validation.test.ts runs them with cfn-guard).
    const controlTower: Array<[rule: string, reason: string]> = [
      ['s3_bucket_logging_enabled_check', `CT.S3.PR.2: ${accessLogs}`],
      ['s3_bucket_versioning_enabled_check', 'CT.S3.PR.11: each object is written once for one execution and expires after a day; versions would only keep copies of user code and output longer.'],
      ['s3_bucket_object_lock_enabled_check', 'CT.S3.PR.9: Object Lock keeps objects from being deleted, the opposite of what this bucket is for (requests and results expire after a day).'],
      ['s3_event_notifications_enabled_check', 'CT.S3.PR.4: nothing reacts to these objects: the API reads a result when a client polls for it.'],
      [
        's3_bucket_default_encryption_kms_check',
        'CT.S3.PR.10: objects are encrypted at rest with SSE-S3. With the AWS managed KMS key every principal of the account that may use S3 may use the key, so SSE-KMS would not narrow who reads them; a customer managed key would have to be granted to the presigned-URL signer and costs a key per deployment, for objects that live a day.',
      ],
    ];
    for (const [rule, reason] of controlTower) Validations.of(this.bucket).acknowledge({ id: `cdk-validator-cfnguard::${rule}`, reason });
  }
}
