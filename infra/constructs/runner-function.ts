import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RuntimeId } from '../../functions/contract.js';
import type { RuntimeImage } from './runtime-image.js';

export interface RunnerFunctionProps {
  runtime: RuntimeId;
  image: RuntimeImage;
  /** @default 1024 */
  memoryMiB?: number;
  /** @default 60 */
  timeoutSeconds?: number;
  /** @default 1024 */
  ephemeralStorageMiB?: number;
  /** A warm environment serves only one tenant (Lambda tenant isolation). @default true */
  tenantIsolation?: boolean;
  /** When set, the function runs in these subnets with this security group (no egress in network mode `none`). @default no VPC (internet egress) */
  vpc?: { vpc: ec2.IVpc; subnets: ec2.SubnetSelection; securityGroup: ec2.ISecurityGroup };
  /** @default logs.RetentionDays.ONE_MONTH */
  logRetention?: logs.RetentionDays;
  /** `none`: the seccomp filter refuses programs inet sockets (the Runtime API is on loopback). @default 'none' */
  network?: 'none' | 'internet';
}

/**
 * A runtime's runner: a container-image Lambda function whose role can write its own logs and
 * nothing else. In a VPC, Lambda also needs to manage the function's network interfaces; those
 * permissions are denied to every call made from inside the function (user code could read
 * the credentials), so only the Lambda service itself can use them.
 */
export class RunnerFunction extends Construct {
  readonly function: lambda.DockerImageFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RunnerFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `runtools ${props.runtime} runner: writes its logs, nothing else`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.vpc) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'LambdaManagesNetworkInterfaces',
          actions: [
            'ec2:CreateNetworkInterface',
            'ec2:DescribeNetworkInterfaces',
            'ec2:DescribeSubnets',
            'ec2:DeleteNetworkInterface',
            'ec2:AssignPrivateIpAddresses',
            'ec2:UnassignPrivateIpAddresses',
          ],
          resources: ['*'],
        }),
      );
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'NoNetworkInterfacesFromInsideTheFunction',
          effect: iam.Effect.DENY,
          actions: ['ec2:*'],
          resources: ['*'],
          conditions: { Null: { 'lambda:SourceFunctionArn': 'false' } },
        }),
      );
      Validations.of(this.role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Lambda needs these EC2 network-interface actions on any resource to attach a function to a VPC (ec2:DescribeNetworkInterfaces supports no resource scoping); the Deny statement above makes them unusable from inside the function.',
      });
    }
    this.function = new lambda.DockerImageFunction(this, 'Function', {
      description: `runtools ${props.runtime} runner (${props.image.version})`,
      code: lambda.DockerImageCode.fromEcr(props.image.asset.repository, { tagOrDigest: props.image.asset.imageTag }),
      architecture: lambda.Architecture.X86_64,
      memorySize: props.memoryMiB ?? 1024,
      timeout: Duration.seconds(props.timeoutSeconds ?? 60),
      ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB ?? 1024),
      role: this.role,
      logGroup: this.logGroup,
      // Invocations are synchronous and may have side effects: never retried by Lambda.
      retryAttempts: 0,
      environment: { RUNTOOLS_NETWORK: props.network ?? 'none' },
      ...(props.tenantIsolation ?? true ? { tenancyConfig: lambda.TenancyConfig.PER_TENANT } : {}),
      ...(props.vpc
        ? { vpc: props.vpc.vpc, vpcSubnets: props.vpc.subnets, securityGroups: [props.vpc.securityGroup] }
        : {}),
    });
  }
}
