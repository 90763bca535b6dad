// `vdet models pull|import|list|remove`: the local model cache (see docs/models.md).

import {
  type CachedModel,
  importModel,
  ModelCache,
  PUBLISHED_PHIS,
  type PullEvent,
  parsePublishedName,
  pullModel,
} from "@vdet/models";
import { type PhiValue, phiLabel } from "@vdet/protocol";
import { type Command, InvalidArgumentError } from "commander";
import { positiveNumber } from "../options.ts";
import { createProgress, type Progress } from "../progress.ts";

const MiB = 2 ** 20;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

function modelSummary(m: CachedModel) {
  const { manifest } = m;
  return {
    name: m.name,
    phi: manifest.phi,
    resolution: manifest.resolution,
    classes: manifest.numClasses,
    parameters: manifest.parameters,
    bytesOnDisk: m.bytesOnDisk,
    source: manifest.source.location,
    sha256: manifest.sha256,
    modelPath: m.modelPath,
    createdAt: manifest.createdAt,
  };
}

/** Log lines (stderr) and a download bar on a terminal for one model's pull. */
function pullReporter(json: boolean): { onEvent(e: PullEvent): void; stop(): void } {
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let progress: Progress | undefined;
  const stop = () => {
    progress?.stop();
    progress = undefined;
  };
  return {
    stop,
    onEvent(e) {
      switch (e.type) {
        case "cached":
          if (!json) log(`${e.name}: already cached in ${e.model.dir}, nothing to do`);
          break;
        case "download":
          log(
            `${e.name}: downloading ${e.url}${e.total !== null ? ` (${mib(e.total)})` : ""}` +
              (e.resumedFrom > 0 ? `, resuming at ${mib(e.resumedFrom)}` : ""),
          );
          progress = createProgress("MiB");
          break;
        case "progress":
          progress?.update(
            Math.round((e.received / MiB) * 10) / 10,
            e.total !== null ? Math.round((e.total / MiB) * 10) / 10 : null,
            e.name,
          );
          break;
        case "verified":
          stop();
          log(`${e.name}: sha256 ${e.sha256} verified`);
          break;
        case "converting":
          log(`${e.name}: converting to the ONNX deploy graph`);
          break;
        case "stored":
          log(`${e.name}: stored in ${e.model.dir} (${mib(e.model.bytesOnDisk)})`);
          break;
      }
    },
  };
}

function parseNames(names: string[], all: boolean | undefined): PhiValue[] {
  if (all && names.length > 0) throw new InvalidArgumentError("give model names or --all, not both");
  if (all) return [...PUBLISHED_PHIS];
  if (names.length === 0) throw new InvalidArgumentError("give model names (d0 … d7, d7x) or --all");
  return names.map((name) => {
    const phi = parsePublishedName(name);
    if (phi === undefined) {
      throw new InvalidArgumentError(
        `unknown published model "${name}": use d0 … d7 or d7x (your own checkpoints: vdet models import)`,
      );
    }
    return phi;
  });
}

function formatTable(models: CachedModel[]): string {
  const rows = models.map((m) => [
    m.name,
    phiLabel(m.manifest.phi),
    String(m.manifest.numClasses),
    mib(m.bytesOnDisk),
    m.manifest.source.kind === "published"
      ? m.manifest.source.location
      : `import: ${m.manifest.source.location}`,
  ]);
  const header = ["name", "φ", "classes", "size", "source"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function registerModelsCommands(program: Command): void {
  const models = program
    .command("models")
    .description("the local model cache: pull published COCO models, import your own, list them");

  models
    .command("pull")
    .description("download, verify and convert published COCO EfficientDet models into the cache")
    .argument("[names...]", "d0 … d7, d7x")
    .option("--all", "every published model (D0–D7, D7x)")
    .option("--keep-checkpoint", "also keep the downloaded .pth beside the model")
    .option(
      "--from <file>",
      "offline: install one model from a copy of its published .pth (checksum-verified)",
    )
    .option(
      "--stall-timeout <s>",
      "give up when no data arrives for this long",
      positiveNumber("--stall-timeout"),
      30,
    )
    .option("--json", "print the results as JSON")
    .action(
      async (
        names: string[],
        o: { all?: boolean; keepCheckpoint?: boolean; from?: string; stallTimeout: number; json?: boolean },
      ) => {
        const phis = parseNames(names, o.all);
        if (o.from !== undefined && phis.length !== 1)
          throw new InvalidArgumentError("--from installs one model: give one name");
        const cache = new ModelCache();
        const results: object[] = [];
        let failed = 0;
        for (const phi of phis) {
          const reporter = pullReporter(Boolean(o.json));
          try {
            const result = await pullModel(phi, {
              cache,
              stallTimeoutMs: o.stallTimeout * 1000,
              keepCheckpoint: o.keepCheckpoint,
              fromFile: o.from,
              onEvent: reporter.onEvent,
            });
            results.push({ status: result.status, ...modelSummary(result.model) });
          } catch (error) {
            failed++;
            const message = error instanceof Error ? error.message : String(error);
            process.stderr.write(`vdet: ${phiLabel(phi).toLowerCase()}: ${message}\n`);
            results.push({ name: phiLabel(phi).toLowerCase(), status: "failed", error: message });
          } finally {
            reporter.stop();
          }
        }
        if (o.json)
          process.stdout.write(`${JSON.stringify({ cache: cache.dir, models: results }, null, 2)}\n`);
        if (failed > 0) process.exitCode = 1;
      },
    );

  models
    .command("import")
    .description(
      "convert your own checkpoint (any class count) or deploy ONNX file and store it in the cache",
    )
    .argument("<file>", "checkpoint (.pth in either PyTorch format, .safetensors, wrapped) or deploy .onnx")
    .option(
      "--phi <φ>",
      "EfficientDet coefficient of the checkpoint: 0…7 or 7x (read from a deploy .onnx built by vdet)",
    )
    .option(
      "--classes <labels.txt>",
      "class names, one per line in class order (count must match the checkpoint)",
    )
    .option("--name <name>", "cache name (default: the file name without extension)")
    .option("--force", "replace a cached model of the same name")
    .option("--json", "print the result as JSON")
    .action(
      async (
        file: string,
        o: { phi?: string; classes?: string; name?: string; force?: boolean; json?: boolean },
      ) => {
        const started = performance.now();
        const model = await importModel(file, {
          phi: o.phi,
          classesFile: o.classes,
          name: o.name,
          force: o.force,
        });
        if (o.json) {
          process.stdout.write(`${JSON.stringify(modelSummary(model), null, 2)}\n`);
          return;
        }
        const m = model.manifest;
        process.stdout.write(
          `imported ${model.name}: EfficientDet-${phiLabel(m.phi)}, ${m.numClasses} classes, ` +
            `${m.parameters.toLocaleString("en-US")} parameters, ${mib(model.bytesOnDisk)}, ` +
            `${((performance.now() - started) / 1000).toFixed(1)} s\nstored in ${model.dir}\n` +
            `use it with --model ${model.name} (vdet detect) or --weights ${model.name} (vdet run, workers)\n`,
        );
      },
    );

  models
    .command("list")
    .description("the cached models, with sizes")
    .option("--json", "machine-readable output")
    .action((o: { json?: boolean }) => {
      const cache = new ModelCache();
      const { models: found, damaged } = cache.list();
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ cache: cache.dir, models: found.map(modelSummary), damaged }, null, 2)}\n`,
        );
        return;
      }
      process.stdout.write(`cache: ${cache.dir}\n`);
      process.stdout.write(
        found.length > 0 ? `${formatTable(found)}\n` : "no models cached: vdet models pull d0\n",
      );
      for (const d of damaged) {
        process.stderr.write(`damaged entry ${d.name}: ${d.reason} (vdet models remove ${d.name})\n`);
      }
    });

  models
    .command("remove")
    .description("delete cached models")
    .argument("<names...>", "model names")
    .action(async (names: string[]) => {
      const cache = new ModelCache();
      for (const name of names) {
        const removed = await cache.remove(name);
        process.stdout.write(removed ? `removed ${name}\n` : `${name} is not cached\n`);
      }
    });
}
