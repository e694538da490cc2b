import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RuntimeId } from '../../functions/contract.js';
import type { RuntimeImage } from './runtime-image.js';

export interface RunnerTaskProps {
  runtime: RuntimeId;
  image: RuntimeImage;
  /** @default 1024 (1 vCPU) */
  cpu?: number;
  /** @default 2048 */
  memoryMiB?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  logRetention?: logs.RetentionDays;
  /** `none`: the seccomp filter refuses programs inet sockets (the runner itself still reaches S3). @default 'none' */
  network?: 'none' | 'internet';
}

/** Name of the runner container in every task definition. */
export const RUNNER_CONTAINER = 'runner';

/**
 * A runtime's Fargate task definition: the runtime's image started as `node task.mjs`, a
 * read-only root filesystem with a private /tmp, no Linux capabilities (the container's root is
 * then an ordinary user: no CAP_KILL, CAP_DAC_OVERRIDE or CAP_SYS_PTRACE over the runner), and no
 * task role at all (the container gets no AWS credentials; it talks to S3 only through the
 * presigned URLs it is given).
 * The execution role (used by the Fargate agent, never visible in the container) pulls the
 * image and writes the logs.
 */
export class RunnerTask extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, props: RunnerTaskProps) {
    super(scope, id);
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryMiB ?? 2048,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      volumes: [{ name: 'tmp' }],
    });
    // FargateTaskDefinition always makes a task role; runtools tasks must have none.
    this.taskDefinition.node.tryRemoveChild('TaskRole');
    (this.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition).addPropertyDeletionOverride('TaskRoleArn');

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.container = this.taskDefinition.addContainer(RUNNER_CONTAINER, {
      containerName: RUNNER_CONTAINER,
      image: ecs.ContainerImage.fromDockerImageAsset(props.image.asset),
      entryPoint: ['/usr/local/bin/node'],
      command: ['/opt/runtools/task.mjs'],
      essential: true,
      // The images' runner user (runtime-layers/*/Dockerfile): the task definition says it too, so
      // a task never runs as root even from an image without USER (Security Hub ECS.20 checks this field).
      user: '10001:10001',
      readonlyRootFilesystem: true,
      // Fargate supports dropping capabilities on every platform version (ECS KernelCapabilities).
      linuxParameters: new ecs.LinuxParameters(this, 'Linux'),
      environment: { RUNTOOLS_NETWORK: props.network ?? 'none' },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: props.runtime, logGroup }),
    });
    this.container.linuxParameters!.dropCapabilities(ecs.Capability.ALL);
    this.container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'tmp', readOnly: false });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The only variable is RUNTOOLS_NETWORK (none or internet), a public setting of the deployment; the task has no secrets to keep out of its definition.',
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'The execution role (used by the Fargate agent, never visible inside the container) needs ecr:GetAuthorizationToken, which has no resource-level scoping; image pulls and log writes are scoped to this image repository and log group.',
    });
  }
}
