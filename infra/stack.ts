import { Annotations, CfnOutput, Duration, Lazy, Stack, Validations, type CfnElement, type StackProps } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RuntimeId } from '../functions/contract.js';
import type { AwsDeployment } from '../functions/dispatch/route.js';
import { concurrencyPlan, FUNCTION_MARGIN_MS, type RuntoolsConfig } from './config.js';
import { RuntoolsApi } from './constructs/api.js';
import { Monitoring } from './constructs/monitoring.js';
import { ResultsBucket } from './constructs/results-bucket.js';
import { RunnerFunction } from './constructs/runner-function.js';
import { RunnerNetwork } from './constructs/runner-network.js';
import { RunnerTask, RUNNER_CONTAINER } from './constructs/runner-task.js';
import { RuntimeImage } from './constructs/runtime-image.js';

export interface RuntoolsStackProps extends StackProps {
  config: RuntoolsConfig;
}

/** Margin between a task's longest run and the expiry of its result upload URL, s. */
const RESULT_URL_MARGIN_SECONDS = 1800;

/** The whole deployment: API, one image + runner function + task definition per runtime, bucket, network. */
export class RuntoolsStack extends Stack {
  readonly api: RuntoolsApi;
  readonly runners: Partial<Record<RuntimeId, RunnerFunction>> = {};
  readonly tasks: Partial<Record<RuntimeId, RunnerTask>> = {};
  readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: RuntoolsStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.logRetentionDays as logs.RetentionDays;

    const results = new ResultsBucket(this, 'Results', { expireDays: config.resultsExpireDays });
    const network = new RunnerNetwork(this, 'Network', { mode: config.network, resultsBucket: results.bucket, maxAzs: config.maxAzs });
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: network.vpc, enableFargateCapacityProviders: true });
    Validations.of(cluster).acknowledge({
      id: 'AwsSolutions-ECS4',
      reason: 'Each task runs one execution and exits; per-task Container Insights metrics would cost more than they tell. Task logs go to CloudWatch Logs.',
    });

    const versions: Partial<Record<RuntimeId, string>> = {};
    for (const runtime of config.runtimes) {
      const image = new RuntimeImage(this, `Image-${runtime}`, { runtime });
      versions[runtime] = image.version;
      const settings = config.functions[runtime];
      this.runners[runtime] = new RunnerFunction(this, `Runner-${runtime}`, {
        runtime,
        image,
        memoryMiB: settings.memoryMiB,
        timeoutSeconds: settings.timeoutSeconds,
        ephemeralStorageMiB: settings.ephemeralStorageMiB,
        tenantIsolation: config.tenantIsolation,
        vpc: network.mode === 'none' ? { vpc: network.vpc, subnets: network.subnets, securityGroup: network.functionSecurityGroup } : undefined,
        logRetention: retention,
        network: network.mode,
      });
      this.tasks[runtime] = new RunnerTask(this, `Task-${runtime}`, {
        runtime,
        image,
        cpu: config.taskCpu,
        memoryMiB: config.taskMemoryMiB,
        logRetention: retention,
        network: network.mode,
      });
    }

    const concurrency = concurrencyPlan(config.accountConcurrency, Object.keys(this.runners).length);
    if ('off' in concurrency) {
      Annotations.of(this).addWarningV2(
        'runtools:concurrency-off',
        `No reserved concurrency (${concurrency.off}): the API and runner functions share the account's unreserved pool. Set -c runtools:accountConcurrency=<the account's Lambda concurrency quota> to reserve (README: Deploy to AWS).`,
      );
    } else {
      Annotations.of(this).addInfo(`Reserved concurrency: API function ${concurrency.api}, each runner function ${concurrency.runner}.`);
      // RunnerFunction takes no concurrency prop; its CfnFunction takes the cap.
      for (const runner of Object.values(this.runners)) {
        (runner.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = concurrency.runner;
      }
    }

    const deployment: AwsDeployment = {
      functions: Object.fromEntries(Object.entries(this.runners).map(([r, f]) => [r, f.function.functionName])),
      tasks: Object.fromEntries(
        Object.entries(this.tasks).map(([r, t]) => [r, { taskDefinition: t.taskDefinition.taskDefinitionArn, containerName: RUNNER_CONTAINER }]),
      ),
      versions,
      cluster: cluster.clusterName,
      bucket: results.bucket.bucketName,
      subnets: network.vpc.selectSubnets(network.subnets).subnetIds,
      securityGroups: [network.taskSecurityGroup.securityGroupId],
      assignPublicIp: network.assignPublicIp,
      tenantIsolation: config.tenantIsolation,
      syncBudgetMs: config.syncBudgetMs,
      compileAllowanceMs: config.compileAllowanceMs,
      taskRuntimes: config.taskRuntimes,
      maxTimeoutMs: config.maxTimeoutMs,
      resultUrlSeconds: Math.ceil(config.maxTimeoutMs / 1000) + RESULT_URL_MARGIN_SECONDS,
      // What every deployed runner function can hold: longer executions go to Fargate.
      functionBudgetMs: Math.min(...config.runtimes.map((id) => config.functions[id].timeoutSeconds * 1000)) - FUNCTION_MARGIN_MS,
    };
    let resultWriterRoleArn: string | undefined;
    this.api = new RuntoolsApi(this, 'Api', {
      // Lazy: the result-writer role below trusts the API's role, which this construct makes.
      environment: { RUNTOOLS_DEPLOYMENT: Lazy.string({ produce: () => this.toJsonString({ ...deployment, resultWriterRoleArn }) }) },
      usagePlans: config.usagePlans,
      integrationTimeoutSeconds: config.apiTimeoutSeconds,
      logRetention: retention,
      accountCloudWatchRole: config.apiGatewayAccountRole,
      reservedConcurrency: 'off' in concurrency ? undefined : concurrency.api,
    });
    this.grantApi(this.api.role, cluster, results.bucket.arnForObjects('executions/*'), results.bucket.arnForObjects('uploads/*'), results.bucket.arnForObjects('idempotency/*'));
    // Fresh hour-long sessions of this role sign Fargate tasks' result URLs (functions/dispatch/result-writer.ts):
    // a URL signed with the API function's own session could die before its task ends.
    const resultWriter = new iam.Role(this, 'ResultWriter', {
      assumedBy: this.api.role,
      maxSessionDuration: Duration.hours(1),
      description: "runtools: signs Fargate tasks' result URLs; may only create result objects",
    });
    resultWriter.addToPolicy(
      new iam.PolicyStatement({ sid: 'CreateResults', actions: ['s3:PutObject'], resources: [results.bucket.arnForObjects('executions/*/result.json')] }),
    );
    resultWriter.grantAssumeRole(this.api.role);
    resultWriterRoleArn = resultWriter.roleArn;
    Validations.of(resultWriter).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(results.bucket.node.defaultChild as CfnElement)}.Arn>/executions/*/result.json]`,
      reason: 'Each execution has its own result key under executions/<random id>/, known only when the task is started; the role can create nothing else.',
    });
    const bucketId = this.getLogicalId(results.bucket.node.defaultChild as CfnElement);
    Validations.of(this.api.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/executions/*]`,
      reason: 'Every execution has its own object keys under executions/<random id>/, created at request time; the API function reads and writes only that prefix.',
    });
    Validations.of(this.api.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/uploads/*]`,
      reason: 'Every uploaded request body has its own key under uploads/<hashed key id>/<random id>.json, created at request time; the API function signs uploads, reads and deletes only that prefix.',
    });
    Validations.of(this.api.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/idempotency/*]`,
      reason: 'Every Idempotency-Key has its own object under idempotency/<hashed tenant>/<hashed key>.json, named at request time; the API function creates, reads, replaces and deletes only that prefix.',
    });
    Validations.of(this.api.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecs:DescribeTasks is granted on any task ARN (task ids are only known after RunTask) but only within the runtools cluster (ecs:cluster condition).',
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the runtools API' });
    for (const [name, plan] of Object.entries(this.api.usagePlans)) {
      new CfnOutput(this, `UsagePlan${name.replace(/[^A-Za-z0-9]/g, '')}`, { value: plan.usagePlanId, description: `Usage plan id of the ${name} tier` });
    }
    new CfnOutput(this, 'CreateApiKey', {
      description: 'How to give a customer a key (README: Deploy to AWS)',
      value:
        'aws apigateway create-api-key --name <customer> --enabled --query id --output text, then ' +
        'aws apigateway create-usage-plan-key --usage-plan-id <UsagePlan id> --key-type API_KEY --key-id <key id>, then ' +
        'aws apigateway get-api-key --api-key <key id> --include-value --query value --output text',
    });
    new CfnOutput(this, 'ResultsBucketName', { value: results.bucket.bucketName });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api,
      runners: Object.fromEntries(Object.entries(this.runners).map(([r, f]) => [r, f.function])),
      cluster,
      apiReservedConcurrency: 'off' in concurrency ? undefined : concurrency.api,
      monthlyBudgetUsd: config.monthlyBudgetUsd,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'SNS topic of every alarm (subscribe with the AlertEmail parameter, or aws sns subscribe)' });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName, description: 'CloudWatch dashboard of the deployment' });
  }

  /** The API function may invoke the runners, run the task definitions, read their tasks and use the bucket: nothing else. */
  private grantApi(role: iam.Role, cluster: ecs.Cluster, objects: string, uploads: string, keys: string): void {
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeRunners',
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(this.runners).map((r) => r.function.functionArn),
      }),
    );
    const tasks = Object.values(this.tasks);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RunRunnerTasks',
        actions: ['ecs:RunTask'],
        resources: tasks.map((t) => t.taskDefinition.taskDefinitionArn),
        conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadRunnerTasks',
        actions: ['ecs:DescribeTasks'],
        resources: ['*'],
        conditions: { ArnEquals: { 'ecs:cluster': cluster.clusterArn } },
      }),
    );
    const executionRoles = tasks.map((t) => t.taskDefinition.obtainExecutionRole().roleArn);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassTaskExecutionRoles',
        actions: ['iam:PassRole'],
        resources: executionRoles,
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ExecutionObjects', actions: ['s3:GetObject', 's3:PutObject'], resources: [objects] }));
    // Request bodies uploaded through presigned URLs (functions/api/uploads.ts): the URL is signed
    // with this role (PutObject), the body read once and deleted. Idempotency keys
    // (functions/dispatch/idempotency.ts): created if absent, replaced with the response, deleted after an error.
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'UploadsAndKeys', actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], resources: [uploads, keys] }),
    );
  }
}
