import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as route53resolver from 'aws-cdk-lib/aws-route53resolver';
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
/**
 * The names the runners resolve in network mode `none`, and nothing else: the results bucket
 * through the presigned URLs of runner functions and tasks (regional virtual-hosted S3 names, as
 * the SDK signs them: test/infra/stack.test.ts proves it), and what a Fargate task's own agent
 * needs to start it (ECR's API and registry, ECR's image layers, which are S3 too, and CloudWatch
 * Logs). Programs cannot open inet sockets there at all; these names are answered by AWS.
 */
export function runnerDnsAllowList(region: string): string[] {
  return [`*.s3.${region}.amazonaws.com`, `s3.${region}.amazonaws.com`, `api.ecr.${region}.amazonaws.com`, `*.dkr.ecr.${region}.amazonaws.com`, `logs.${region}.amazonaws.com`];
}

export class RunnerNetwork extends Construct {
  readonly mode: NetworkMode;
  readonly vpc: ec2.Vpc;
  /** Subnets of runner functions and tasks. */
  readonly subnets: ec2.SubnetSelection;
  /** Runner functions' security group (in mode `none`: no inbound, HTTPS out, which only the S3 gateway endpoint answers). */
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
      description: isolated ? 'runtools runner functions: HTTPS to the S3 endpoint only' : 'runtools runner functions',
      allowAllOutbound: false,
    });
    this.taskSecurityGroup = new ec2.SecurityGroup(this, 'TaskSg', {
      vpc: this.vpc,
      description: isolated ? 'runtools tasks: HTTPS to the VPC endpoints only' : 'runtools tasks: outbound internet',
      allowAllOutbound: !isolated,
    });
    if (isolated) {
      this.addEndpoints(props.resultsBucket);
      this.addDnsFirewall();
    }
  }

  /**
   * Security groups do not filter the VPC resolver, so a program could tunnel data out through
   * DNS queries for names under a domain its sender controls. In mode `none` Route 53 Resolver DNS
   * Firewall answers NXDOMAIN for every name but those the runners themselves need
   * (runnerDnsAllowList). A domain specification may start with `*`, and `*` alone matches every
   * name (docs.aws.amazon.com/Route53/latest/DeveloperGuide/resolver-dns-firewall-user-managed-domain-lists.html);
   * rules apply in priority order, the lowest first.
   */
  private addDnsFirewall(): void {
    const allowed = new route53resolver.CfnFirewallDomainList(this, 'DnsAllowList', {
      name: 'runtools-runner-allowed',
      domains: runnerDnsAllowList(Stack.of(this).region),
    });
    const everything = new route53resolver.CfnFirewallDomainList(this, 'DnsEverything', { name: 'runtools-runner-everything', domains: ['*'] });
    const group = new route53resolver.CfnFirewallRuleGroup(this, 'DnsFirewall', {
      name: 'runtools-runner-dns',
      firewallRules: [
        { firewallDomainListId: allowed.attrId, action: 'ALLOW', priority: 100 },
        { firewallDomainListId: everything.attrId, action: 'BLOCK', blockResponse: 'NXDOMAIN', priority: 200 },
      ],
    });
    new route53resolver.CfnFirewallRuleGroupAssociation(this, 'DnsFirewallAssociation', {
      firewallRuleGroupId: group.attrId,
      vpcId: this.vpc.vpcId,
      // 101 … 9900 are the priorities left to customers' rule groups.
      priority: 101,
      name: 'runtools-runners',
    });
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
    // Runner functions store an outcome (or read a big request) through presigned S3 URLs: the
    // gateway endpoint is their only route; the interface endpoints admit tasks only (below).
    this.functionSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to the S3 gateway endpoint (the only route)');

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
