// vdet on AWS: input/output buckets, an S3 upload → Lambda → api front door, ElastiCache Redis, and an ECS
// cluster running the api, producer and aggregator on Fargate and the workers on GPU instances, scaled on the
// frame backlog per worker (CloudWatch metric vdet/FramesBacklogPerWorker, dimension Deployment=<prefix>).

import { fileURLToPath } from "node:url";
import {
  aws_applicationautoscaling as appscaling,
  aws_autoscaling as autoscaling,
  aws_cloudwatch as cloudwatch,
  Duration,
  aws_ec2 as ec2,
  aws_ecr as ecr,
  aws_ecs as ecs,
  aws_ecs_patterns as ecsPatterns,
  aws_elasticache as elasticache,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_lambda_nodejs as lambdaNodejs,
  aws_logs as logs,
  RemovalPolicy,
  Stack,
  type StackProps,
  aws_s3 as s3,
  aws_s3_notifications as s3n,
  aws_secretsmanager as secretsmanager,
} from "aws-cdk-lib";
import type { Construct } from "constructs";

export interface VdetStackProps extends StackProps {
  /** Image tag suffix: images are <repo>:app-<version>, <repo>:worker-cuda-<version> (infra/docker/Dockerfile). */
  imageVersion?: string;
  /** VDET_PREFIX: Redis key prefix and the CloudWatch metric's Deployment dimension. */
  prefix?: string;
  gpuInstanceType?: string;
  maxGpuWorkers?: number;
  /**
   * Worker tasks kept running while nothing waits. 0 (the default, for archive deployments) scales an idle
   * deployment to zero GPU instances; the first waiting chunk wakes one worker. Live deployments keep 1 or more warm.
   */
  minGpuWorkers?: number;
  /** Waiting frame chunks per worker the scaling policy aims at. */
  targetBacklogPerWorker?: number;
  redisNodeType?: string;
}

/** The upload Lambda's bundle: ESM for Node 22; the runtime provides the AWS SDK v3. */
export const LAMBDA_BUNDLING = {
  format: "esm",
  target: "node22",
  externalModules: ["@aws-sdk/*"],
} as const;

export const BACKLOG_METRIC = { namespace: "vdet", metricName: "FramesBacklogPerWorker" } as const;

export class VdetStack extends Stack {
  readonly inputBucket: s3.Bucket;
  readonly outputBucket: s3.Bucket;
  /** The roles vdet's own code runs under (task roles and the upload Lambda's role), for IAM review and tests. */
  readonly codeRoles: Record<"api" | "producer" | "aggregator" | "worker" | "submitOnUpload", iam.IRole>;

  constructor(scope: Construct, id: string, props: VdetStackProps = {}) {
    super(scope, id, props);
    const prefix = props.prefix ?? "vdet";
    const version = props.imageVersion ?? "0.1.0";
    const maxWorkers = props.maxGpuWorkers ?? 8;
    const minWorkers = props.minGpuWorkers ?? 0;

    const vpc = new ec2.Vpc(this, "Vpc", { maxAzs: 2, natGateways: 1 });

    const bucketProps: s3.BucketProps = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    };
    this.inputBucket = new s3.Bucket(this, "Input", bucketProps);
    this.outputBucket = new s3.Bucket(this, "Output", bucketProps);

    // Redis: TLS in transit, AUTH token from Secrets Manager (letters and digits: it goes into a URL), AOF-like
    // durability from a replica with automatic failover.
    const redisAuth = new secretsmanager.Secret(this, "RedisAuth", {
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    const apiToken = new secretsmanager.Secret(this, "ApiToken", {
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    const redisSecurityGroup = new ec2.SecurityGroup(this, "RedisSecurityGroup", {
      vpc,
      description: "vdet Redis: reachable from the vdet services only",
      allowAllOutbound: false,
    });
    const redisSubnets = new elasticache.CfnSubnetGroup(this, "RedisSubnets", {
      description: "vdet Redis subnets",
      subnetIds: vpc.privateSubnets.map((s) => s.subnetId),
    });
    const redis = new elasticache.CfnReplicationGroup(this, "Redis", {
      replicationGroupDescription: "vdet queues and job state",
      engine: "redis",
      engineVersion: "7.1",
      cacheNodeType: props.redisNodeType ?? "cache.r7g.large",
      numCacheClusters: 2,
      automaticFailoverEnabled: true,
      multiAzEnabled: true,
      transitEncryptionEnabled: true,
      atRestEncryptionEnabled: true,
      // BullMQ requires that Redis never evicts its keys.
      cacheParameterGroupName: new elasticache.CfnParameterGroup(this, "RedisParameters", {
        cacheParameterGroupFamily: "redis7",
        description: "vdet: no eviction",
        properties: { "maxmemory-policy": "noeviction" },
      }).ref,
      authToken: redisAuth.secretValue.unsafeUnwrap(), // a CloudFormation dynamic reference, not the value
      cacheSubnetGroupName: redisSubnets.ref,
      securityGroupIds: [redisSecurityGroup.securityGroupId],
    });

    const cluster = new ecs.Cluster(this, "Cluster", { vpc });
    const images = new ecr.Repository(this, "Images", { imageScanOnPush: true });
    const logGroup = new logs.LogGroup(this, "Logs", { retention: logs.RetentionDays.ONE_MONTH });

    const environment = {
      VDET_REDIS_HOST: redis.attrPrimaryEndPointAddress,
      VDET_REDIS_PORT: redis.attrPrimaryEndPointPort,
      VDET_REDIS_TLS: "true",
      VDET_PREFIX: prefix,
      VDET_HEALTH_PORT: "8081",
      AWS_REGION: this.region,
    };
    const secrets = { VDET_REDIS_PASSWORD: ecs.Secret.fromSecretsManager(redisAuth) };
    const healthCheck = (port: number): ecs.HealthCheck => ({
      command: ["CMD", "node", "/usr/local/bin/healthcheck.mjs"],
      interval: Duration.seconds(15),
      timeout: Duration.seconds(5),
      retries: 3,
      startPeriod: Duration.seconds(port === 8080 ? 30 : 180),
    });
    const containerBase = (role: string, port: number): ecs.ContainerDefinitionOptions => ({
      image: ecs.ContainerImage.fromEcrRepository(
        images,
        role === "worker" ? `worker-cuda-${version}` : `app-${version}`,
      ),
      command: [role],
      environment,
      secrets,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: role }),
      healthCheck: healthCheck(port),
      // Fargate allows at most 120 s; the role drains in at most 60 s.
      stopTimeout: Duration.seconds(90),
      portMappings: [{ containerPort: port }],
    });

    // api: internal load balancer (the upload Lambda and operators inside the VPC call it).
    const api = new ecsPatterns.ApplicationLoadBalancedFargateService(this, "Api", {
      cluster,
      publicLoadBalancer: false,
      desiredCount: 2,
      cpu: 512,
      memoryLimitMiB: 1024,
      taskImageOptions: {
        image: ecs.ContainerImage.fromEcrRepository(images, `app-${version}`),
        command: ["api"],
        containerPort: 8080,
        environment: {
          ...environment,
          VDET_OUTPUT_BUCKETS: this.outputBucket.bucketName,
          // The api publishes vdet/FramesBacklogPerWorker, which the worker scaling policy tracks.
          VDET_CLOUDWATCH_NAMESPACE: BACKLOG_METRIC.namespace,
        },
        secrets: { ...secrets, VDET_API_TOKEN: ecs.Secret.fromSecretsManager(apiToken) },
        logDriver: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: "api" }),
      },
    });
    api.targetGroup.configureHealthCheck({ path: "/readyz" });
    // For that publisher (PutMetricData has no resource-level permissions: scoped by namespace).
    api.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        conditions: { StringEquals: { "cloudwatch:namespace": BACKLOG_METRIC.namespace } },
      }),
    );

    const fargate = (role: "producer" | "aggregator", cpu: number, memoryLimitMiB: number) => {
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${role}Task`, { cpu, memoryLimitMiB });
      taskDefinition.addContainer(role, containerBase(role, 8081));
      return new ecs.FargateService(this, `${role}Service`, {
        cluster,
        taskDefinition,
        desiredCount: 1,
        // The aggregator holds per-job reorder buffers: never two at once.
        ...(role === "aggregator" ? { minHealthyPercent: 0, maxHealthyPercent: 100 } : {}),
      });
    };
    const producer = fargate("producer", 2048, 4096);
    const aggregator = fargate("aggregator", 1024, 2048);
    // Least privilege on the buckets: the producer reads inputs (to index them), the aggregator writes (and
    // re-reads) results; the workers' read of inputs is granted below.
    producer.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.inputBucket.arnForObjects("*")],
      }),
    );
    aggregator.taskDefinition.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        resources: [this.outputBucket.arnForObjects("*")],
      }),
    );

    // GPU workers: ECS-optimised GPU AMI in an auto scaling group behind a capacity provider (managed scaling
    // adds instances when worker tasks cannot be placed).
    const gpuInstances = new autoscaling.AutoScalingGroup(this, "GpuInstances", {
      vpc,
      instanceType: new ec2.InstanceType(props.gpuInstanceType ?? "g5.xlarge"),
      machineImage: ecs.EcsOptimizedImage.amazonLinux2(ecs.AmiHardwareType.GPU),
      minCapacity: 0,
      maxCapacity: maxWorkers,
      requireImdsv2: true,
    });
    const gpuCapacity = new ecs.AsgCapacityProvider(this, "GpuCapacity", {
      autoScalingGroup: gpuInstances,
      enableManagedTerminationProtection: false,
    });
    cluster.addAsgCapacityProvider(gpuCapacity);
    const workerTask = new ecs.Ec2TaskDefinition(this, "workerTask", {
      networkMode: ecs.NetworkMode.AWS_VPC,
    });
    workerTask.addContainer("worker", {
      ...containerBase("worker", 8081),
      environment: { ...environment, VDET_EP: "cuda", VDET_MAX_BATCH: "8" },
      gpuCount: 1,
      memoryReservationMiB: 8192,
    });
    // Workers decode their own segments of s3:// inputs (presigned ranged GETs): they read the input bucket too.
    workerTask.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.inputBucket.arnForObjects("*")],
      }),
    );
    const worker = new ecs.Ec2Service(this, "workerService", {
      cluster,
      taskDefinition: workerTask,
      desiredCount: minWorkers,
      capacityProviderStrategies: [{ capacityProvider: gpuCapacity.capacityProviderName, weight: 1 }],
    });
    const workerCount = worker.autoScaleTaskCount({ minCapacity: minWorkers, maxCapacity: maxWorkers });
    workerCount.scaleToTrackCustomMetric("BacklogPerWorker", {
      metric: new cloudwatch.Metric({
        ...BACKLOG_METRIC,
        dimensionsMap: { Deployment: prefix },
        statistic: "Average",
        period: Duration.minutes(1),
      }),
      targetValue: props.targetBacklogPerWorker ?? 16,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    if (minWorkers === 0) {
      // Target tracking multiplies the current task count, so from zero tasks it never scales out. This step
      // policy starts one worker while chunks wait and no worker is connected; its long cooldown covers an
      // instance boot and image pull, after which the first worker connects and target tracking takes over.
      const metric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: BACKLOG_METRIC.namespace,
          metricName,
          dimensionsMap: { Deployment: prefix },
          statistic: "Maximum",
          period: Duration.minutes(1),
        });
      workerCount.scaleOnMetric("WakeFromZero", {
        metric: new cloudwatch.MathExpression({
          expression: "IF(workers < 1 AND backlog > 0, 1, 0)",
          usingMetrics: { workers: metric("Workers"), backlog: metric("FramesBacklog") },
          period: Duration.minutes(1),
        }),
        scalingSteps: [
          { upper: 0, change: 0 },
          { lower: 1, change: 1 },
        ],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown: Duration.minutes(10),
        evaluationPeriods: 1,
      });
    }

    for (const service of [api.service, producer, aggregator, worker]) {
      redisSecurityGroup.addIngressRule(
        ec2.Peer.securityGroupId(service.connections.securityGroups[0].securityGroupId),
        ec2.Port.tcp(6379),
        "vdet service to Redis",
      );
    }

    // The front door: an upload to the input bucket submits a job through the api.
    const submit = new lambdaNodejs.NodejsFunction(this, "SubmitOnUpload", {
      entry: fileURLToPath(new URL("submit-on-upload.ts", import.meta.url)),
      handler: "handler",
      runtime: lambda.Runtime.NODEJS_22_X,
      timeout: Duration.seconds(60),
      memorySize: 256,
      vpc,
      deadLetterQueueEnabled: true,
      retryAttempts: 2,
      environment: {
        VDET_API_URL: `http://${api.loadBalancer.loadBalancerDnsName}`,
        VDET_API_TOKEN_SECRET_ARN: apiToken.secretArn,
        VDET_OUTPUT_BUCKET: this.outputBucket.bucketName,
        VDET_OUTPUT_PREFIX: "results/",
      },
      bundling: {
        format: lambdaNodejs.OutputFormat.ESM,
        target: LAMBDA_BUNDLING.target,
        externalModules: [...LAMBDA_BUNDLING.externalModules],
      },
    });
    submit.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["secretsmanager:GetSecretValue"],
        resources: [apiToken.secretArn],
      }),
    );
    api.loadBalancer.connections.allowFrom(submit, ec2.Port.tcp(80), "upload Lambda to the api");
    this.codeRoles = {
      api: api.taskDefinition.taskRole,
      producer: producer.taskDefinition.taskRole,
      aggregator: aggregator.taskDefinition.taskRole,
      worker: workerTask.taskRole,
      submitOnUpload: submit.role!,
    };
    this.inputBucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(submit));
  }
}
