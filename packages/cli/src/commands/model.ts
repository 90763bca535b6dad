// `vdet model build|info` and `vdet detect`: build EfficientDet-Dφ as ONNX, inspect a model, detect in images.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { constructGraph, Detector, type ModelInfo, readOnnxInfo, type Variant } from "@vdet/effdet";
import { decodeImage } from "@vdet/image";
import { type CachedModel, defaultWeights, resolveModelReference } from "@vdet/models";
import { cocoIdsByName, cocoLabel, type Detections, detectionCount, parsePhi } from "@vdet/protocol";
import { type Command, InvalidArgumentError, Option } from "commander";
import { integer, probability } from "../options.ts";
import { seededBanner } from "../weights.ts";
import { addInt8BuildOptions, buildInt8, type Int8BuildOptions, registerModelCompare } from "./model-int8.ts";

function phiOption(value: string): string {
  parsePhi(value);
  return value;
}

interface ModelSourceOptions {
  phi?: string;
  weights?: string;
  seed?: number;
  imageSize?: number;
  numClasses?: number;
}

function buildFromOptions(o: ModelSourceOptions, variant: Variant, extra: { candidates?: number } = {}) {
  if (o.phi === undefined) throw new InvalidArgumentError("--phi is required (0…7 or 7x)");
  const weights = o.weights ? readFileSync(o.weights) : undefined;
  return constructGraph({
    phi: o.phi,
    weights,
    weightsName: o.weights ? basename(o.weights) : undefined,
    seed: weights ? undefined : (o.seed ?? 0),
    variant,
    imageSize: o.imageSize,
    numClasses: o.numClasses,
    ...extra,
  });
}

function addModelSourceOptions(command: Command): Command {
  return command
    .option("--phi <φ>", "EfficientDet coefficient: 0…7 or 7x", phiOption)
    .option(
      "--weights <file>",
      "checkpoint in the reference naming (.safetensors, .pth); format read from content",
    )
    .option(
      "--seed <n>",
      "deterministic random weights when no --weights (default 0)",
      integer("--seed", 0, 2 ** 31),
    )
    .option("--image-size <px>", "override the model resolution (square)", integer("--image-size", 128, 4096))
    .option(
      "--num-classes <n>",
      "class count of the checkpoint (default 90, COCO)",
      integer("--num-classes", 1, 100000),
    );
}

function formatInfo(info: ModelInfo | ReturnType<typeof readOnnxInfo>): string {
  const lines: string[] = [];
  if ("name" in info) {
    lines.push(`model        ${info.name} (${info.variant}), opset ${info.opset}`);
    lines.push(`resolution   ${info.imageSize}×${info.imageSize}, levels ${info.levels.join("/")}`);
    lines.push(`parameters   ${info.parameters.toLocaleString("en-US")} (reference count)`);
    lines.push(`classes      ${info.numClasses}, anchors ${info.anchors.toLocaleString("en-US")}`);
    lines.push(`weights      ${info.weights}`);
    lines.push(`graph nodes  ${info.nodes}`);
  } else {
    lines.push(`producer     ${info.producer}, opset ${info.opset}, ${info.nodes} nodes`);
    if (info.phi !== undefined) lines.push(`model        EfficientDet-D${info.phi} (${info.variant})`);
    if (info.imageSize) lines.push(`resolution   ${info.imageSize}×${info.imageSize}`);
    lines.push(
      info.parameters !== undefined
        ? `parameters   ${info.parameters.toLocaleString("en-US")} (reference count)`
        : `parameters   ${info.storedValues.toLocaleString("en-US")} (values stored in the file)`,
    );
    if (info.numClasses) lines.push(`classes      ${info.numClasses}`);
  }
  const spec = (s: { name: string; type: string; dims: readonly (number | string)[] }) =>
    `${s.name}: ${s.type}[${s.dims.join(", ")}]`;
  lines.push(`inputs       ${info.inputs.map(spec).join("; ")}`);
  lines.push(`outputs      ${info.outputs.map(spec).join("\n             ")}`);
  return lines.join("\n");
}

export function registerModelCommands(program: Command): void {
  const model = program.command("model").description("build and inspect EfficientDet-Dφ ONNX models");

  addInt8BuildOptions(
    addModelSourceOptions(
      model
        .command("build")
        .description("build EfficientDet-Dφ as an ONNX model from the compound-scaling rules")
        .requiredOption("--out <file.onnx>", "where to write the model"),
    ),
  )
    .addOption(
      new Option("--variant <variant>", "raw head outputs or deploy (uint8 frames in, candidates out)")
        .choices(["raw", "deploy"])
        .default("deploy"),
    )
    .option("--candidates <k>", "deploy: top-k candidates per image", integer("--candidates", 1, 5000))
    .option("--threads <n>", "int8: calibration threads", integer("--threads", 1, 256))
    .action(
      async (
        o: ModelSourceOptions &
          Int8BuildOptions & { out: string; variant: Variant; candidates?: number; precision: string },
      ) => {
        const started = performance.now();
        if (o.precision === "int8" && o.variant !== "deploy")
          throw new InvalidArgumentError("--precision int8 builds the deploy variant only");
        if (o.precision !== "int8" && o.calibrate)
          throw new InvalidArgumentError("--calibrate needs --precision int8");
        const graph = buildFromOptions(o, o.variant, { candidates: o.candidates });
        let bytes = graph.toBytes();
        let note = "";
        if (o.precision === "int8") {
          const int8 = await buildInt8(bytes, o, graph.info.weights);
          bytes = int8.bytes;
          const r = int8.report;
          note =
            `, int8 (${r.method}${r.percentile ? ` ${r.percentile}` : ""}, ${r.calibrationFrames} calibration frames, ` +
            `${r.weightBits}-bit weights (${r.weightBitsChosenBy}), ${r.quantizedConvs} int8 convs, ${r.floatConvs} float; ` +
            `calibration sha256 ${int8.calibrationSha256.slice(0, 12)}; agreement with fp32 AP@0.5 ` +
            `${int8.agreement.ap50.toFixed(3)} on ${int8.agreement.on}` +
            `${int8.cached ? `; cached as ${int8.cached.name}` : ""})`;
        }
        writeFileSync(o.out, bytes);
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        process.stdout.write(
          `wrote ${o.out}: ${graph.info.name} (${graph.info.variant}), ${graph.info.parameters.toLocaleString("en-US")} parameters, ` +
            `${(bytes.length / 2 ** 20).toFixed(1)} MiB${note}, ${seconds} s\n`,
        );
      },
    );
  registerModelCompare(model);

  addModelSourceOptions(
    model
      .command("info")
      .description("describe an ONNX model file, or the model --phi would build")
      .argument("[file.onnx]", "model file"),
  )
    .addOption(new Option("--variant <variant>").choices(["raw", "deploy"]).default("deploy"))
    .option("--json", "machine-readable output")
    .action((file: string | undefined, o: ModelSourceOptions & { variant: Variant; json?: boolean }) => {
      if (!file && o.phi === undefined) throw new InvalidArgumentError("give a model file or --phi");
      const info = file ? readOnnxInfo(readFileSync(file)) : buildFromOptions(o, o.variant).info;
      process.stdout.write(o.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatInfo(info)}\n`);
    });

  addModelSourceOptions(
    program
      .command("detect")
      .description("detect objects in PNG/JPEG images")
      .argument("<images...>", "image files (PNG or JPEG)"),
  )
    .option(
      "--model <file.onnx|name>",
      "a deploy-variant model file, or a cached model name such as d0 (default: the COCO model for --phi, 0 unless given, pulled on first use)",
    )
    .option(
      "--offline",
      "never download models: without a cached one, run untrained seeded weights (VDET_OFFLINE=1)",
    )
    .option("--score-threshold <p>", "minimum score to report", probability, 0.3)
    .option("--classes <names>", "only these classes, e.g. person,car")
    .option("--ep <provider>", "execution provider: cpu, cuda[:id], tensorrt[:id]", "cpu")
    .option("--threads <n>", "intra-op threads (cpu)", integer("--threads", 1, 256))
    .option("--json", "machine-readable output")
    .action(
      async (
        images: string[],
        o: ModelSourceOptions & {
          model?: string;
          scoreThreshold: number;
          classes?: string;
          ep: string;
          threads?: number;
          json?: boolean;
          offline?: boolean;
        },
      ) => {
        // Decode every image first: a bad file fails before any model work.
        const frames = images.map((file) => {
          if (!existsSync(file)) throw new InvalidArgumentError(`image ${file} does not exist`);
          return { file, ...decodeImage(readFileSync(file), file) };
        });
        // Without a model or weights: the COCO model for --phi (default 0), pulled on first use unless offline.
        let cached = cachedModel(o);
        if (!o.model && !cached && !o.weights) {
          const phi = parsePhi(o.phi ?? "0");
          const found = await defaultWeights(phi, { offline: o.offline ? true : undefined });
          if (found.kind === "trained") cached = found.model;
          else if (!o.json) process.stderr.write(seededBanner([found]));
          o.phi ??= String(phi);
        }
        const model = cached
          ? cached.modelPath
          : o.model
            ? readFileSync(o.model)
            : buildFromOptions(o, "deploy").toBytes();
        const detector = await Detector.create(model, {
          executionProvider: o.ep,
          intraOpThreads: o.threads,
        });
        try {
          const labels = cached?.manifest.labels;
          const label = (id: number) => (labels ? (labels[id - 1] ?? `class-${id}`) : cocoLabel(id));
          const classes = o.classes ? new Set(classIds(o.classes.split(","), labels)) : undefined;
          const results = await detector.detect(frames, { scoreThreshold: o.scoreThreshold, classes });
          const report = frames.map((f, i) => ({
            file: f.file,
            width: f.width,
            height: f.height,
            detections: toRows(results[i], label),
          }));
          if (o.json) process.stdout.write(`${JSON.stringify({ images: report }, null, 2)}\n`);
          else process.stdout.write(formatDetections(report));
        } finally {
          await detector.close();
        }
      },
    );
}

interface DetectionRow {
  box: [number, number, number, number];
  score: number;
  classId: number;
  label: string;
}

/** The cached model `--model NAME` or `--weights NAME` names (a name that is not a file), else undefined. */
function cachedModel(o: ModelSourceOptions & { model?: string }): CachedModel | undefined {
  const reference = o.model ?? o.weights;
  if (reference === undefined || existsSync(reference)) return undefined;
  const phi = o.phi !== undefined ? parsePhi(o.phi) : undefined;
  const resolved = resolveModelReference(reference, { phi });
  return resolved.kind === "cached" ? resolved.cached : undefined;
}

/** Class ids for a `--classes` filter: by the model's own labels when it has them, else COCO names. */
function classIds(names: string[], labels: readonly string[] | undefined): number[] {
  if (!labels) return cocoIdsByName(names);
  return names.map((raw) => {
    const index = labels.findIndex((l) => l.toLowerCase() === raw.trim().toLowerCase());
    if (index < 0)
      throw new InvalidArgumentError(`unknown class "${raw}": the model's classes are ${labels.join(", ")}`);
    return index + 1;
  });
}

function toRows(d: Detections, label: (classId: number) => string): DetectionRow[] {
  const rows: DetectionRow[] = [];
  for (let i = 0; i < detectionCount(d); i++) {
    const b = d.xyxy.subarray(i * 4, i * 4 + 4);
    rows.push({
      box: [b[0], b[1], b[2], b[3]].map((v) => Math.round(v * 10) / 10) as DetectionRow["box"],
      score: Math.round(d.scores[i] * 1e4) / 1e4,
      classId: d.classIds[i],
      label: label(d.classIds[i]),
    });
  }
  return rows;
}

function formatDetections(
  report: { file: string; width: number; height: number; detections: DetectionRow[] }[],
): string {
  return report
    .map((r) => {
      const head = `${r.file} (${r.width}×${r.height}): ${r.detections.length} detection(s)`;
      const rows = r.detections.map(
        (d) =>
          `  ${d.label.padEnd(16)} ${d.score.toFixed(3)}  [${d.box.map((v) => v.toFixed(1)).join(", ")}]`,
      );
      return [head, ...rows].join("\n");
    })
    .join("\n")
    .concat("\n");
}
