import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../infra/config.js';
import { synthStack } from './synth.js';
import { RUNTIME_IDS } from '../../functions/runtimes.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

const ofType = (template: Template, type: string): Resources => template.findResources(type) as Resources;

/** Every IAM statement attached to the role with this logical id (inline Policies and AWS::IAM::Policy). */
function statementsOfRole(template: Template, roleId: string): any[] {
  const policies = Object.values(ofType(template, 'AWS::IAM::Policy')).filter((p) =>
    (p.Properties!.Roles as any[]).some((r) => r.Ref === roleId),
  );
  return policies.flatMap((p) => p.Properties!.PolicyDocument.Statement as any[]);
}

const asList = (v: unknown) => (Array.isArray(v) ? v : [v]);

describe('the stack (network none, defaults)', () => {
  let template: Template;
  let synth: ReturnType<typeof synthStack>;
  beforeAll(() => {
    synth = synthStack();
    template = synth.template;
  });

  it('requires an API key on every method except GET /health', () => {
    const methods = ofType(template, 'AWS::ApiGateway::Method');
    const resources = ofType(template, 'AWS::ApiGateway::Resource');
    const pathOf = (m: Record<string, any>) => (m.ResourceId?.Ref ? resources[m.ResourceId.Ref]!.Properties!.PathPart : '/');
    const seen = Object.values(methods).map((m) => [pathOf(m.Properties!), m.Properties!.HttpMethod, m.Properties!.ApiKeyRequired === true]);
    expect(seen).toContainEqual(['health', 'GET', false]);
    for (const [path, method, keyed] of seen) if (path !== 'health') expect(keyed, `${method} ${path}`).toBe(true);
    expect(seen.filter(([, , keyed]) => keyed).length).toBeGreaterThanOrEqual(2);
  });

  it('streams every Lambda integration (InvokeWithResponseStream), with POST /v1/execute on an integration of its own', () => {
    const methods = ofType(template, 'AWS::ApiGateway::Method');
    const resources = ofType(template, 'AWS::ApiGateway::Resource');
    const integrations = Object.values(methods).map((m) => m.Properties!.Integration);
    expect(integrations.length).toBeGreaterThanOrEqual(5);
    const pathOf = (m: { Properties?: Record<string, any> }) => (m.Properties!.ResourceId?.Ref ? resources[m.Properties!.ResourceId.Ref]!.Properties!.PathPart : '/');
    for (const method of Object.values(methods)) {
      const integration = method.Properties!.Integration;
      // Live output and MCP hold a request while the program runs: up to 15 minutes in STREAM mode.
      const long = ['execute', 'mcp'].includes(pathOf(method));
      expect(integration, pathOf(method)).toMatchObject({ Type: 'AWS_PROXY', ResponseTransferMode: 'STREAM', TimeoutInMillis: long ? 894_000 : 29_000 });
      expect(JSON.stringify(integration.Uri)).toContain('/response-streaming-invocations');
    }
    const api = Object.values(ofType(template, 'AWS::Lambda::Function')).find((f) => f.Properties!.Runtime === 'nodejs22.x')!;
    expect(api.Properties!.Timeout).toBe(900);
    const execute = Object.values(methods).find((m) => pathOf(m) === 'execute' && m.Properties!.HttpMethod === 'POST');
    expect(execute, 'POST /v1/execute').toBeDefined();
    const parent = resources[execute!.Properties!.ResourceId.Ref]!.Properties!.ParentId.Ref;
    expect(resources[parent]!.Properties!.PathPart).toBe('v1');
  });

  it('answers a missing key with the API error body and 401', () => {
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'INVALID_API_KEY',
      StatusCode: '401',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"code":"unauthorized"') },
    });
    template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'QUOTA_EXCEEDED', StatusCode: '429' });
  });

  it('has the free, pro and team usage plans with monthly quotas and throttling', () => {
    for (const [name, limit] of [['free', 1_000], ['pro', 50_000], ['team', 500_000]] as const) {
      template.hasResourceProperties('AWS::ApiGateway::UsagePlan', {
        UsagePlanName: `runtools-${name}`,
        Quota: { Limit: limit, Period: 'MONTH' },
        Throttle: { RateLimit: Match.anyValue(), BurstLimit: Match.anyValue() },
      });
    }
  });

  it('deploys six container-image runner functions with tenant isolation', () => {
    const functions = Object.values(ofType(template, 'AWS::Lambda::Function')).filter((f) => f.Properties!.PackageType === 'Image');
    expect(functions).toHaveLength(RUNTIME_IDS.length);
    for (const f of functions) {
      expect(f.Properties!.TenancyConfig).toEqual({ TenantIsolationMode: 'PER_TENANT' });
      expect(f.Properties!.VpcConfig?.SubnetIds).toBeDefined();
      // The launcher's seccomp filter refuses programs inet sockets (the Runtime API is on loopback).
      expect(f.Properties!.Environment.Variables.RUNTOOLS_NETWORK).toBe('none');
    }
  });

  it('gives runner roles nothing but their own logs (and Lambda-only network interfaces in a VPC)', () => {
    const functions = Object.values(ofType(template, 'AWS::Lambda::Function')).filter((f) => f.Properties!.PackageType === 'Image');
    for (const f of functions) {
      const roleId = f.Properties!.Role['Fn::GetAtt'][0] as string;
      const role = ofType(template, 'AWS::IAM::Role')[roleId]!;
      expect(role.Properties!.ManagedPolicyArns ?? []).toEqual([]);
      for (const s of statementsOfRole(template, roleId)) {
        const actions = asList(s.Action) as string[];
        if (s.Effect === 'Deny') {
          expect(s.Condition).toEqual({ Null: { 'lambda:SourceFunctionArn': 'false' } });
          continue;
        }
        for (const a of actions) expect(a, a).toMatch(/^logs:(CreateLogStream|PutLogEvents)$|^ec2:[A-Za-z]+NetworkInterface|^ec2:(DescribeSubnets|AssignPrivateIpAddresses|UnassignPrivateIpAddresses)$/);
        if (actions.some((a) => a.startsWith('logs:'))) expect(s.Resource).not.toBe('*');
      }
    }
  });

  it('gives Fargate tasks no task role, a read-only root filesystem and node task.mjs', () => {
    const defs = Object.values(ofType(template, 'AWS::ECS::TaskDefinition'));
    expect(defs).toHaveLength(RUNTIME_IDS.length);
    for (const d of defs) {
      expect(d.Properties!.TaskRoleArn).toBeUndefined();
      expect(d.Properties!.ExecutionRoleArn).toBeDefined();
      const [container] = d.Properties!.ContainerDefinitions as any[];
      expect(container.ReadonlyRootFilesystem).toBe(true);
      expect(container.EntryPoint).toEqual(['/usr/local/bin/node']);
      expect(container.Command).toEqual(['/opt/runtools/task.mjs']);
      // No capabilities: the container's root cannot signal, trace or read past the runner's protections.
      expect(container.LinuxParameters.Capabilities).toEqual({ Drop: ['ALL'] });
      expect(container.Environment).toContainEqual({ Name: 'RUNTOOLS_NETWORK', Value: 'none' });
    }
  });

  it('keeps results in a private, encrypted, TLS-only, expiring bucket', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 1, Status: 'Enabled' })]) },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('lets the API function invoke runners, run tasks, pass only execution roles, use the bucket and assume the result writer', () => {
    const api = Object.entries(ofType(template, 'AWS::Lambda::Function')).find(([, f]) => f.Properties!.Runtime === 'nodejs22.x')!;
    const roleId = api[1].Properties!.Role['Fn::GetAtt'][0] as string;
    const actions = statementsOfRole(template, roleId).flatMap((s) => asList(s.Action) as string[]);
    expect(new Set(actions)).toEqual(
      new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 'lambda:InvokeFunction', 'ecs:RunTask', 'ecs:DescribeTasks', 'iam:PassRole', 's3:GetObject', 's3:PutObject', 's3:DeleteObject', 'sts:AssumeRole']),
    );
    // Deleting is for uploaded request bodies and idempotency keys only, and nothing else under the bucket.
    const deletes = statementsOfRole(template, roleId).filter((s) => asList(s.Action).includes('s3:DeleteObject'));
    expect(deletes).toHaveLength(1);
    expect(JSON.stringify(deletes[0].Resource)).toMatch(/\/uploads\/\*"/);
    expect(JSON.stringify(deletes[0].Resource)).toMatch(/\/idempotency\/\*"/);
    expect(asList(deletes[0].Resource)).toHaveLength(2);
    const passRole = statementsOfRole(template, roleId).find((s) => asList(s.Action).includes('iam:PassRole'))!;
    expect(JSON.stringify(passRole.Resource)).toMatch(/ExecutionRole/);
    expect(JSON.stringify(passRole.Resource)).not.toMatch(/TaskRole/);
    const env = api[1].Properties!.Environment.Variables;
    expect(env.RUNTOOLS_DEPLOYMENT).toBeDefined();
  });

  it('isolates runners in network mode none: no NAT, no internet gateway, endpoints for tasks', () => {
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const endpoints = Object.values(ofType(template, 'AWS::EC2::VPCEndpoint'));
    const services = endpoints.map((e) => JSON.stringify(e.Properties!.ServiceName));
    for (const s of ['ecr.api', 'ecr.dkr', 'logs', 's3']) expect(services.some((n) => n.includes(s)), s).toBe(true);
    // Runner functions reach the S3 gateway endpoint (their outcome, big requests) and nothing else: no other route exists.
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'runtools runner functions: HTTPS to the S3 endpoint only',
      SecurityGroupEgress: [Match.objectLike({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })],
      SecurityGroupIngress: Match.absent(),
    });
  });

  it('answers NXDOMAIN for every name but those the runners need (DNS Firewall on the runners\' VPC)', () => {
    const lists = Object.values(ofType(template, 'AWS::Route53Resolver::FirewallDomainList'));
    expect(lists.some((l) => JSON.stringify(l.Properties!.Domains) === '["*"]')).toBe(true);
    const [group] = Object.values(ofType(template, 'AWS::Route53Resolver::FirewallRuleGroup'));
    const rules = [...(group!.Properties!.FirewallRules as any[])].sort((a, b) => a.Priority - b.Priority);
    expect(rules.map((r) => r.Action)).toEqual(['ALLOW', 'BLOCK']);
    expect(rules[1].BlockResponse).toBe('NXDOMAIN');
    template.resourceCountIs('AWS::Route53Resolver::FirewallRuleGroupAssociation', 1);
    template.hasResourceProperties('AWS::Route53Resolver::FirewallRuleGroupAssociation', { VpcId: Match.anyValue(), Priority: 101 });
  });

  it('lets the runners resolve exactly the names their presigned S3 URLs use, in every region', async () => {
    const { S3Client, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');
    const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
    const { runnerDnsAllowList } = await import('../../infra/constructs/runner-network.js');
    const matches = (host: string, spec: string) => (spec.startsWith('*.') ? host.endsWith(spec.slice(1)) : host === spec);
    for (const region of ['us-east-1', 'eu-west-1', 'ap-southeast-2']) {
      // As the API function signs them (functions/dispatch/route.ts defaultAwsClients).
      const s3 = new S3Client({ region, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
      for (const command of [new PutObjectCommand({ Bucket: 'runtools-resultsbucket-1a2b3c4d5e6f', Key: 'executions/x/result.json', IfNoneMatch: '*' }), new GetObjectCommand({ Bucket: 'runtools-resultsbucket-1a2b3c4d5e6f', Key: 'executions/x/request.json' })]) {
        const host = new URL(await getSignedUrl(s3, command, { expiresIn: 60 })).hostname;
        expect(runnerDnsAllowList(region).some((spec) => matches(host, spec)), `${host} in ${region}`).toBe(true);
      }
      // Nothing broader: a name outside AWS's S3, ECR and Logs endpoints is blocked.
      for (const host of ['example.com', `exfil.attacker.example`, `${region}.amazonaws.com.attacker.example`]) {
        expect(runnerDnsAllowList(region).some((spec) => matches(host, spec)), host).toBe(false);
      }
    }
  });

  it("signs tasks' result URLs with a role that may only create result objects, assumed by the API for an hour", () => {
    const roles = ofType(template, 'AWS::IAM::Role');
    const [writerId, writer] = Object.entries(roles).find(([, r]) => /result URLs/.test(r.Properties!.Description ?? ''))!;
    expect(writer.Properties!.MaxSessionDuration).toBe(3600);
    const principals = writer.Properties!.AssumeRolePolicyDocument.Statement.map((st: any) => JSON.stringify(st.Principal));
    expect(principals).toHaveLength(1);
    expect(principals[0]).toMatch(/ApiRole/);
    const statements = statementsOfRole(template, writerId);
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('s3:PutObject');
    expect(JSON.stringify(statements[0].Resource)).toMatch(/\/executions\/\*\/result\.json/);
    const apiRoleId = Object.keys(roles).find((id) => /^ApiRole/.test(id))!;
    expect(statementsOfRole(template, apiRoleId).some((st) => st.Action === 'sts:AssumeRole' && JSON.stringify(st.Resource).includes(writerId))).toBe(true);
    const api = Object.values(ofType(template, 'AWS::Lambda::Function')).find((f) => f.Properties!.Environment?.Variables?.RUNTOOLS_DEPLOYMENT);
    expect(JSON.stringify(api!.Properties!.Environment.Variables.RUNTOOLS_DEPLOYMENT)).toContain('resultWriterRoleArn');
    expect(JSON.stringify(api!.Properties!.Environment.Variables.RUNTOOLS_DEPLOYMENT)).toContain(writerId);
  });

  it('refuses a maxTimeoutMs a task could not finish while its result URL is valid', () => {
    expect(() => parseConfig({ 'runtools:maxTimeoutMs': '3000000' })).toThrow(/59 minutes a task's result URL stays valid/);
    expect(() => parseConfig({ 'runtools:maxTimeoutMs': '2400000' })).not.toThrow();
  });

  it('tasks run as the images\' non-root runner user', () => {
    for (const def of Object.values(ofType(template, 'AWS::ECS::TaskDefinition'))) {
      expect(def.Properties!.ContainerDefinitions[0].User).toBe('10001:10001');
    }
  });

  it('sends Lambda what a runner function can hold, so the default request runs there', () => {
    const api = Object.values(ofType(template, 'AWS::Lambda::Function')).find((f) => f.Properties!.Environment?.Variables?.RUNTOOLS_DEPLOYMENT);
    const raw = api!.Properties!.Environment.Variables.RUNTOOLS_DEPLOYMENT;
    const text = typeof raw === 'string' ? raw : JSON.stringify(raw);
    const budget = Number(/\\?"functionBudgetMs\\?":(\d+)/.exec(text)?.[1]);
    // maxTimeoutMs 300 s + compile allowance 10 s + 5 s margin = 315 s functions, less the margin.
    expect(budget).toBe(310_000);
    for (const fn of Object.values(ofType(template, 'AWS::Lambda::Function')).filter((f) => f.Properties!.PackageType === 'Image')) {
      expect(fn.Properties!.Timeout).toBe(315);
    }
  });

  it('passes cdk-nag AwsSolutions with zero unacknowledged findings', () => {
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('the stack, configured', () => {
  it('network internet: runners outside the VPC, tasks with public IPs, no endpoints', () => {
    const { template } = synthStack({ 'runtools:network': 'internet', 'runtools:tenantIsolation': 'false', 'runtools:runtimes': 'python,go' });
    const functions = Object.values(ofType(template, 'AWS::Lambda::Function')).filter((f) => f.Properties!.PackageType === 'Image');
    expect(functions).toHaveLength(2);
    for (const f of functions) {
      expect(f.Properties!.VpcConfig).toBeUndefined();
      expect(f.Properties!.TenancyConfig).toBeUndefined();
      expect(f.Properties!.Environment.Variables.RUNTOOLS_NETWORK).toBe('internet');
    }
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::ECS::TaskDefinition', 2);
    const api = Object.values(ofType(template, 'AWS::Lambda::Function')).find((f) => f.Properties!.Runtime === 'nodejs22.x')!;
    expect(JSON.stringify(api.Properties!.Environment.Variables.RUNTOOLS_DEPLOYMENT)).toContain('\\"assignPublicIp\\":true');
  });

  it('custom usage plans and function sizes', () => {
    const { template } = synthStack({
      'runtools:runtimes': ['rust'],
      'runtools:usagePlans': JSON.stringify({ starter: { quotaPerMonth: 10, rateLimit: 1, burstLimit: 1 } }),
      'runtools:functions': { rust: { memoryMiB: 4096 } },
    });
    template.hasResourceProperties('AWS::ApiGateway::UsagePlan', { UsagePlanName: 'runtools-starter', Quota: { Limit: 10, Period: 'MONTH' } });
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
    template.hasResourceProperties('AWS::Lambda::Function', { PackageType: 'Image', MemorySize: 4096, EphemeralStorage: { Size: 2048 } });
  });

  it('rejects bad configuration naming the key', () => {
    expect(() => parseConfig({ 'runtools:network': 'public' })).toThrow(/runtools:network/);
    expect(() => parseConfig({ 'runtools:runtimes': 'python,cobol' })).toThrow(/runtools:runtimes/);
    expect(() => parseConfig({ 'runtools:bogus': 1 })).toThrow(/bogus/);
    expect(() => parseConfig({ 'runtools:taskRuntimes': 'go', 'runtools:runtimes': 'python' })).toThrow(/taskRuntimes/);
    expect(parseConfig({})).toMatchObject({ network: 'none', tenantIsolation: true, syncBudgetMs: 25_000, runtimes: RUNTIME_IDS });
  });
});

describe('cdk synth', () => {
  it('runs from cdk.json with no AWS account and no Docker engine: bundles the API, stages (never builds) the images', () => {
    const root = new URL('../..', import.meta.url).pathname;
    const out = mkdtempSync(path.join(os.tmpdir(), 'runtools-synth-'));
    try {
      execFileSync('npx', ['cdk', 'synth', '--quiet', '-o', out], {
        cwd: root,
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', CDK_DISABLE_CLI_TELEMETRY: 'true', DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 170_000,
      });
      const assets = JSON.parse(readFileSync(path.join(out, 'Runtools.assets.json'), 'utf8'));
      const images = Object.values(assets.dockerImages) as Array<{ source: { directory: string; dockerFile: string } }>;
      expect(images).toHaveLength(RUNTIME_IDS.length);
      for (const image of images) {
        const staged = path.join(out, image.source.directory);
        expect(readdirSync(staged).sort()).toEqual(expect.arrayContaining(['bootstrap.sh', 'dist', image.source.dockerFile.split('/')[0]!]));
        expect(readdirSync(path.join(staged, 'dist'))).toEqual(expect.arrayContaining(['lambda.mjs', 'task.mjs']));
      }
      expect(Object.keys(assets.files).length).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
