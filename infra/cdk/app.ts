// CDK app entry: `npx cdk synth` / `npx cdk deploy` from infra/cdk (cdk.json runs this through tsx).
import { App } from "aws-cdk-lib";
import { VdetStack } from "./stack.ts";

const app = new App();
new VdetStack(app, "Vdet", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  imageVersion: app.node.tryGetContext("vdet:imageVersion"),
  prefix: app.node.tryGetContext("vdet:prefix"),
  maxGpuWorkers: app.node.tryGetContext("vdet:maxGpuWorkers"),
  minGpuWorkers: app.node.tryGetContext("vdet:minGpuWorkers"),
});
