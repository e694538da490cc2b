import { Aws, CfnCondition, CfnParameter, Duration, Fn, Stack } from 'aws-cdk-lib';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { RuntoolsApi } from './api.js';

export interface MonitoringProps {
  api: RuntoolsApi;
  /** Runner function of each deployed runtime. */
  runners: Record<string, lambda.IFunction>;
  /** The cluster the Fargate tasks run in. */
  cluster: ecs.ICluster;
  /** The API function's reserved concurrency; when set, an alarm fires near it. @default none */
  apiReservedConcurrency?: number;
  /** Monthly cost budget of the account, USD. @default 100 */
  monthlyBudgetUsd?: number;
  /** API 5xx answers in five minutes that raise the alarm. @default 5 */
  api5xxThreshold?: number;
  /**
   * Errors of one runner function in five minutes that raise its alarm. A program can end its own
   * invocation (a memory bomb), so a single error is not ours. @default 5
   */
  runnerErrorThreshold?: number;
  /** Share of the API function's reserved concurrency that counts as near the cap. @default 0.8 */
  concurrencyAlarmRatio?: number;
}

/** Logical id of the stack parameter with the e-mail address for alarms and the budget. */
export const ALERT_EMAIL_PARAMETER = 'AlertEmail';

const FIVE_MINUTES = Duration.minutes(5);

/**
 * What an operator watches: an SNS topic every alarm notifies (with an optional e-mail
 * subscription, the `AlertEmail` stack parameter), alarms on the API (5xx, function errors,
 * throttles, concurrency near its reservation), on each runner (errors, throttles) and on failed
 * Fargate tasks, a dashboard, a saved Logs Insights query for requests per API key, and a monthly
 * AWS Budgets cost budget that e-mails the same address.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;
  /** EventBridge rule matching runner tasks that stopped without storing their outcome. */
  readonly taskFailures: events.Rule;
  readonly budget: budgets.CfnBudget;
  readonly alertEmail: CfnParameter;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const stackName = Stack.of(this).stackName;
    const { api } = props;

    this.alertEmail = new CfnParameter(this, 'AlertEmail', {
      type: 'String',
      default: '',
      allowedPattern: '^$|^[^@\\s]+@[^@\\s]+$',
      constraintDescription: 'an e-mail address, or empty for none',
      description: 'E-mail address for runtools alarms and the monthly cost budget (empty: no e-mail; confirm the subscription AWS sends)',
    });
    this.alertEmail.overrideLogicalId(ALERT_EMAIL_PARAMETER);
    const hasEmail = new CfnCondition(this, 'HasAlertEmail', { expression: Fn.conditionNot(Fn.conditionEquals(this.alertEmail.valueAsString, '')) });

    // Not KMS-encrypted: CloudWatch alarms cannot publish to a topic encrypted with the AWS managed
    // key (repost.aws knowledge-center/cloudwatch-receive-sns-for-alarm-trigger), and alarm
    // notifications carry metric names only. Publishers must use TLS (AwsSolutions-SNS3).
    this.topic = new sns.Topic(this, 'Alarms', { displayName: `${stackName} alarms`, enforceSSL: true });
    // A topic policy replaces SNS's default one (which let the account's own services publish), so
    // CloudWatch alarms of this account and region are allowed explicitly (as in
    // aws-samples/amazon-cloudwatch-auto-alarms CloudWatchAutoAlarms-SNS.yaml).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
    const subscription = new sns.Subscription(this, 'AlertEmailSubscription', {
      topic: this.topic,
      protocol: sns.SubscriptionProtocol.EMAIL,
      endpoint: this.alertEmail.valueAsString,
    });
    (subscription.node.defaultChild as sns.CfnSubscription).cfnOptions.condition = hasEmail;

    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: cloudwatch.Metric, threshold: number, description: string, options: Partial<cloudwatch.CreateAlarmOptions> = {}) => {
      const created = metric.createAlarm(this, `Alarm-${name}`, {
        alarmName: `${stackName}-${name}`,
        alarmDescription: description,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Lambda and API Gateway publish nothing for a period without traffic.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };

    const api5xx = api.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' });
    alarm('api-5xx', api5xx, props.api5xxThreshold ?? 5, 'The API answered 5xx (our failure, not the program\'s): see the API function logs.');
    const apiFn = api.function;
    alarm('api-function-errors', apiFn.metricErrors({ period: FIVE_MINUTES }), 1, 'The API function failed an invocation (crash or timeout).');
    alarm('api-function-throttles', apiFn.metricThrottles({ period: FIVE_MINUTES }), 1, 'The API function was throttled: requests were refused for lack of concurrency.');
    const apiConcurrency = apiFn.metric('ConcurrentExecutions', { period: Duration.minutes(1), statistic: 'Maximum' });
    if (props.apiReservedConcurrency !== undefined) {
      const near = Math.max(1, Math.floor(props.apiReservedConcurrency * (props.concurrencyAlarmRatio ?? 0.8)));
      alarm('api-concurrency-near-cap', apiConcurrency, near, `The API function ran ${near} or more concurrent executions of its ${props.apiReservedConcurrency} reserved.`, {
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
      });
    }

    const runnerErrors = props.runnerErrorThreshold ?? 5;
    for (const [runtime, fn] of Object.entries(props.runners)) {
      alarm(`runner-${runtime}-errors`, fn.metricErrors({ period: FIVE_MINUTES }), runnerErrors, `The ${runtime} runner failed ${runnerErrors} or more invocations in five minutes.`);
      alarm(`runner-${runtime}-throttles`, fn.metricThrottles({ period: FIVE_MINUTES }), 1, `The ${runtime} runner was throttled (its reserved concurrency or the account's quota is used up).`);
    }

    // A runner task exits 0 once its outcome is stored, whatever the program did
    // (functions/runner/task.ts); it fails when it never started (stopCode TaskFailedToStart, no
    // exit code: docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html) or
    // exited non-zero. `$or` and `anything-but` are EventBridge content filters
    // (docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html); an
    // array of objects (containers) matches when any element does.
    this.taskFailures = new events.Rule(this, 'TaskFailures', {
      description: `${stackName}: a runner task stopped without storing its outcome`,
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.cluster.clusterArn],
          lastStatus: ['STOPPED'],
          $or: [{ stopCode: ['TaskFailedToStart'] }, { containers: { exitCode: [{ 'anything-but': 0 }] } }],
        },
      },
    });
    const field = (path: string) => events.EventField.fromPath(path);
    this.taskFailures.addTarget(
      new targets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromText(
          `${stackName}: runner task ${field('$.detail.taskArn')} (${field('$.detail.taskDefinitionArn')}) stopped without storing its outcome: ${field('$.detail.stopCode')}, ${field('$.detail.stoppedReason')}. Its execution is reported as failed; the task definition's log group has the runner's output.`,
        ),
      }),
    );
    // The rule's target invocations count the failed tasks (AWS/Events, RuleName dimension).
    const taskFailures = new cloudwatch.Metric({
      namespace: 'AWS/Events',
      metricName: 'Invocations',
      dimensionsMap: { RuleName: this.taskFailures.ruleName },
      statistic: 'Sum',
      period: FIVE_MINUTES,
      label: 'failed tasks',
    });

    new logs.QueryDefinition(this, 'RequestsPerApiKey', {
      queryDefinitionName: `${stackName}/requests-per-api-key`,
      logGroups: [api.accessLogs],
      queryString: new logs.QueryString({
        filterStatements: ['apiKeyId != "-"'],
        statsStatements: ['count(*) as requests by apiKeyId'],
        sort: 'requests desc',
      }),
    });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${stackName}-${Aws.REGION}`,
      defaultInterval: Duration.hours(6),
    });
    const byRuntime = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
      Object.entries(props.runners).map(([runtime, fn]) => metric(fn).with({ label: runtime }));
    const width = 8;
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests',
        width,
        left: [
          api.api.metricCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' }),
          api.api.metricClientError({ period: FIVE_MINUTES, label: '4xx' }),
          api5xx.with({ label: '5xx' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'API latency (ms)',
        width,
        left: [
          api.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p50', label: 'p50' }),
          api.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p99', label: 'p99' }),
          api.api.metricIntegrationLatency({ period: FIVE_MINUTES, statistic: 'p99', label: 'integration p99' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'API function',
        width,
        left: [
          apiFn.metricErrors({ period: FIVE_MINUTES, label: 'errors' }),
          apiFn.metricThrottles({ period: FIVE_MINUTES, label: 'throttles' }),
        ],
        right: [apiConcurrency.with({ label: 'concurrent (max)' })],
        rightAnnotations:
          props.apiReservedConcurrency !== undefined ? [{ value: props.apiReservedConcurrency, label: 'reserved' }] : [],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Runner invocations', width, left: byRuntime((fn) => fn.metricInvocations({ period: FIVE_MINUTES })) }),
      new cloudwatch.GraphWidget({ title: 'Runner errors', width, left: byRuntime((fn) => fn.metricErrors({ period: FIVE_MINUTES })) }),
      new cloudwatch.GraphWidget({ title: 'Runner throttles', width, left: byRuntime((fn) => fn.metricThrottles({ period: FIVE_MINUTES })) }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Runner duration p99 (ms)',
        width,
        left: byRuntime((fn) => fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99' })),
      }),
      new cloudwatch.GraphWidget({ title: 'Failed Fargate tasks', width, left: [taskFailures] }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width, alarms: this.alarms }),
    );

    // The whole account's cost (Budgets filters by tag only once a cost allocation tag is
    // activated in Billing). No BudgetName: a change of NotificationsWithSubscribers replaces the
    // budget (@aws-cdk/aws-service-spec), which a fixed name would block.
    this.budget = new budgets.CfnBudget(this, 'Budget', {
      budget: {
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: props.monthlyBudgetUsd ?? 100, unit: 'USD' },
      },
    });
    // Written in CloudFormation's own casing: CDK does not convert property names inside an intrinsic.
    const notify = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number) => ({
      Notification: { NotificationType: notificationType, ComparisonOperator: 'GREATER_THAN', Threshold: threshold, ThresholdType: 'PERCENTAGE' },
      Subscribers: [{ SubscriptionType: 'EMAIL', Address: this.alertEmail.valueAsString }],
    });
    this.budget.addPropertyOverride(
      'NotificationsWithSubscribers',
      Fn.conditionIf(hasEmail.logicalId, [notify('ACTUAL', 80), notify('FORECASTED', 100)], Aws.NO_VALUE),
    );
  }
}
