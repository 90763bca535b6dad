// The CDK stack synthesised offline and checked with aws-cdk-lib/assertions: buckets, the upload notification and
// Lambda, Redis, the ECS services and GPU capacity, the backlog scaling policy, and IAM scoping of vdet's roles.

import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { BACKLOG_PER_WORKER_METRIC } from "@vdet/roles";
import { App, type CfnElement } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { BACKLOG_METRIC, VdetStack } from "./stack.ts";

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML/JSON documents, checked field by field below
type Json = any;

let stack: VdetStack;
let template: Template;
type Resource = { Type: string; Properties: Record<string, Json> };
let resources: Record<string, Resource>;

before(() => {
  // Bundling the Lambda (esbuild) is skipped here; the handler is tested on its own.
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  stack = new VdetStack(app, "VdetTest", { env: { account: "123456789012", region: "eu-west-1" } });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});

const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

describe("vdet CDK stack", () => {
  test("input and output buckets: private, encrypted, TLS only", () => {
    template.resourceCountIs("AWS::S3::Bucket", 2);
    template.allResourcesProperties("AWS::S3::Bucket", {
      BucketEncryption: Match.objectLike({}),
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const policies = ofType("AWS::S3::BucketPolicy");
    assert.equal(policies.length, 2);
    for (const [, p] of policies) {
      assert.ok(
        p.Properties.PolicyDocument.Statement.some(
          (s: Json) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false",
        ),
      );
    }
  });

  test("an object created in the input bucket invokes the upload Lambda, which knows the api and its token", () => {
    const fn = logicalId(stack.node.findChild("SubmitOnUpload"));
    template.hasResourceProperties("Custom::S3BucketNotifications", {
      BucketName: { Ref: logicalId(stack.inputBucket) },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          { Events: ["s3:ObjectCreated:*"], LambdaFunctionArn: { "Fn::GetAtt": [fn, "Arn"] } },
        ],
      },
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "s3.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [fn, "Arn"] },
      SourceArn: { "Fn::GetAtt": [logicalId(stack.inputBucket), "Arn"] },
    });
    const props = resources[fn].Properties;
    assert.equal(props.Runtime, "nodejs22.x");
    assert.equal(props.Handler, "index.handler");
    assert.ok(props.VpcConfig, "runs in the VPC, next to the internal api");
    assert.ok(props.DeadLetterConfig, "events that keep failing go to a dead-letter queue");
    assert.deepEqual(Object.keys(props.Environment.Variables).sort(), [
      "VDET_API_TOKEN_SECRET_ARN",
      "VDET_API_URL",
      "VDET_OUTPUT_BUCKET",
      "VDET_OUTPUT_PREFIX",
    ]);
    assert.deepEqual(props.Environment.Variables.VDET_OUTPUT_BUCKET, { Ref: logicalId(stack.outputBucket) });
  });

  test("ElastiCache Redis: TLS, AUTH token from Secrets Manager, failover, no eviction", () => {
    const [[, redis]] = ofType("AWS::ElastiCache::ReplicationGroup");
    assert.equal(redis.Properties.TransitEncryptionEnabled, true);
    assert.equal(redis.Properties.AutomaticFailoverEnabled, true);
    assert.match(JSON.stringify(redis.Properties.AuthToken), /resolve:secretsmanager/);
    template.hasResourceProperties("AWS::ElastiCache::ParameterGroup", {
      Properties: { "maxmemory-policy": "noeviction" },
    });
  });

  test("ECS: Fargate api/producer/aggregator, GPU workers on a capacity provider, long enough stop timeouts", () => {
    const services = ofType("AWS::ECS::Service").map(([, s]) => s.Properties);
    assert.equal(services.filter((s) => s.LaunchType === "FARGATE").length, 3);
    const gpu = services.filter((s) => s.CapacityProviderStrategy);
    assert.equal(gpu.length, 1);
    template.hasResourceProperties("AWS::ECS::CapacityProvider", {
      AutoScalingGroupProvider: Match.objectLike({ ManagedScaling: Match.objectLike({ Status: "ENABLED" }) }),
    });
    const containers = ofType("AWS::ECS::TaskDefinition").flatMap(
      ([, t]) => t.Properties.ContainerDefinitions,
    );
    const worker = containers.find((c: Json) => c.Command?.[0] === "worker");
    assert.deepEqual(worker.ResourceRequirements, [{ Type: "GPU", Value: "1" }]);
    assert.deepEqual(containers.map((c: Json) => c.Command[0]).sort(), [
      "aggregator",
      "api",
      "producer",
      "worker",
    ]);
    for (const c of containers) {
      if (c.Command[0] !== "api") assert.equal(c.StopTimeout, 90, `${c.Command[0]} drains before SIGKILL`);
      assert.ok(c.Secrets.some((s: Json) => s.Name === "VDET_REDIS_PASSWORD"));
      assert.ok(c.Environment.some((e: Json) => e.Name === "VDET_REDIS_TLS" && e.Value === "true"));
    }
    // The GPU AMI comes from the ECS-optimised GPU image parameter.
    assert.match(JSON.stringify(template.toJSON().Parameters), /amazon-linux-2\/gpu\/recommended/);
  });

  test("workers scale on the backlog-per-worker metric the api publishes", () => {
    assert.equal(BACKLOG_METRIC.metricName, BACKLOG_PER_WORKER_METRIC, "the name the api publishes");
    const containers = ofType("AWS::ECS::TaskDefinition").flatMap(
      ([, t]) => t.Properties.ContainerDefinitions,
    );
    const api = containers.find((c: Json) => c.Command?.[0] === "api");
    assert.ok(
      api.Environment.some(
        (e: Json) => e.Name === "VDET_CLOUDWATCH_NAMESPACE" && e.Value === BACKLOG_METRIC.namespace,
      ),
      "the api is told to publish into the namespace the policy reads",
    );
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "TargetTrackingScaling",
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 16,
        CustomizedMetricSpecification: Match.objectLike({
          Namespace: BACKLOG_METRIC.namespace,
          MetricName: BACKLOG_METRIC.metricName,
          Dimensions: [{ Name: "Deployment", Value: "vdet" }],
          Statistic: "Average",
        }),
      }),
    });
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
      ScalableDimension: "ecs:service:DesiredCount",
      MinCapacity: 0,
      MaxCapacity: 8,
    });
    // From zero tasks target tracking cannot scale out: a step policy wakes one worker while chunks wait.
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "StepScaling",
      StepScalingPolicyConfiguration: Match.objectLike({
        AdjustmentType: "ChangeInCapacity",
        StepAdjustments: Match.arrayWith([
          Match.objectLike({ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }),
        ]),
      }),
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: "IF(workers < 1 AND backlog > 0, 1, 0)" })]),
    });
  });

  test("IAM: vdet's roles use named actions on named resources only", () => {
    const statementsOf = (role: keyof VdetStack["codeRoles"]) => {
      const id = logicalId(stack.codeRoles[role]);
      return ofType("AWS::IAM::Policy")
        .filter(([, p]) => p.Properties.Roles.some((r: Json) => r.Ref === id))
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    };
    for (const role of Object.keys(stack.codeRoles) as (keyof VdetStack["codeRoles"])[]) {
      for (const s of statementsOf(role)) {
        for (const action of asList<string>(s.Action)) assert.ok(!action.includes("*"), `${role}: ${action}`);
        if (asList(s.Resource).includes("*")) {
          // Only PutMetricData (no resource-level permissions) and the Lambda's VPC network interfaces.
          assert.deepEqual(asList(s.Action), ["cloudwatch:PutMetricData"], `${role}: * resource`);
          assert.deepEqual(s.Condition, { StringEquals: { "cloudwatch:namespace": "vdet" } });
        }
      }
    }
    const objectsOf = (bucket: object) => ({
      "Fn::Join": ["", [{ "Fn::GetAtt": [logicalId(bucket as never), "Arn"] }, "/*"]],
    });
    assert.deepEqual(statementsOf("producer"), [
      { Action: "s3:GetObject", Effect: "Allow", Resource: objectsOf(stack.inputBucket) },
    ]);
    assert.deepEqual(statementsOf("aggregator"), [
      {
        Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        Effect: "Allow",
        Resource: objectsOf(stack.outputBucket),
      },
    ]);
    // Workers decode their own segments of s3:// inputs: they read the input bucket, nothing else.
    assert.deepEqual(statementsOf("worker"), [
      { Action: "s3:GetObject", Effect: "Allow", Resource: objectsOf(stack.inputBucket) },
    ]);
    const lambdaActions = statementsOf("submitOnUpload")
      .flatMap((s) => asList<string>(s.Action))
      .sort();
    assert.deepEqual(lambdaActions, ["secretsmanager:GetSecretValue", "sqs:SendMessage"]);
    // Nothing in the whole template grants every action.
    for (const [, p] of ofType("AWS::IAM::Policy")) {
      for (const s of p.Properties.PolicyDocument.Statement) assert.notEqual(s.Action, "*");
    }
  });
});
