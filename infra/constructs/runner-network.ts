import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export type NetworkMode = 'none' | 'internet';

export interface RunnerNetworkProps {
  /**
   * `none`: isolated subnets, no NAT, no internet gateway route; runner functions have no egress
   * at all and tasks reach only the VPC endpoints they need (ECR, CloudWatch Logs, and S3
   * restricted to the results bucket and ECR's layer storage).
   * `internet`: runner functions run outside any VPC and tasks get public IPs.
   * @default 'none'
   */
  mode?: NetworkMode;
  /** The bucket tasks read requests from and write results to. */
  resultsBucket: s3.IBucket;
  /** @default 2 */
  maxAzs?: number;
}

/** Where runners and tasks run, and what they can reach. */
export class RunnerNetwork extends Construct {
  readonly mode: NetworkMode;
  readonly vpc: ec2.Vpc;
  /** Subnets of runner functions and tasks. */
  readonly subnets: ec2.SubnetSelection;
  /** Runner functions' security group (no rules at all in mode `none`). */
  readonly functionSecurityGroup: ec2.SecurityGroup;
  readonly taskSecurityGroup: ec2.SecurityGroup;
  /** Whether tasks need a public IP (mode `internet`). */
  readonly assignPublicIp: boolean;

  constructor(scope: Construct, id: string, props: RunnerNetworkProps) {
    super(scope, id);
    this.mode = props.mode ?? 'none';
    const isolated = this.mode === 'none';
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: props.maxAzs ?? 2,
      natGateways: 0,
      subnetConfiguration: [
        isolated
          ? { name: 'runners', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }
          : { name: 'runners', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 22, mapPublicIpOnLaunch: false },
      ],
      restrictDefaultSecurityGroup: false,
    });
    this.vpc.addFlowLog('RejectedTraffic', { trafficType: ec2.FlowLogTrafficType.REJECT });
    this.subnets = { subnetType: isolated ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PUBLIC };
    this.assignPublicIp = !isolated;

    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSg', {
      vpc: this.vpc,
      description: 'runtools runner functions: no inbound, no outbound',
      allowAllOutbound: false,
    });
    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSg', {
      vpc: this.vpc,
      description: isolated ? 'runtools tasks: HTTPS to the VPC endpoints only' : 'runtools tasks: outbound internet',
      allowAllOutbound: !isolated,
    });
    if (isolated) this.addEndpoints(props.resultsBucket);
  }

  private addEndpoints(bucket: s3.IBucket): void {
    const region = Stack.of(this).region;
    const s3Endpoint = this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.subnets],
    });
    // Tasks reach S3 only for the results bucket (presigned URLs) and ECR's image layers.
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:PutObject'],
        resources: [bucket.arnForObjects('executions/*')],
      }),
    );
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [`arn:${Stack.of(this).partition}:s3:::prod-${region}-starport-layer-bucket/*`],
      }),
    );
    // Isolated subnets route nowhere but to the endpoints, so HTTPS "anywhere" reaches exactly
    // the S3 gateway endpoint (whose address range is a region-wide prefix list) and the
    // interface endpoints below.
    this.taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the VPC endpoints (the only routes)');

    const endpointSg = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'runtools interface endpoints: HTTPS from tasks',
      allowAllOutbound: false,
    });
    endpointSg.addIngressRule(this.taskSecurityGroup, ec2.Port.tcp(443), 'tasks');
    const services = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    };
    for (const [name, service] of Object.entries(services)) {
      this.vpc.addInterfaceEndpoint(name, { service, subnets: this.subnets, securityGroups: [endpointSg], privateDnsEnabled: true, open: false });
    }
  }
}
