// The weights `vdet run` and `vdet detect` use when none are named (trained COCO models, pulled on first use;
// seeded weights when none can be had), and how the CLI says which ran: a banner, the summary line, the files.

import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type DefaultWeights, defaultWeights, publishedName, SEEDED_WEIGHTS_LABEL } from "@vdet/models";
import { REFINED_MOT_FILE } from "@vdet/pipeline";
import type { PhiValue } from "@vdet/protocol";

export interface ChosenWeights {
  /** φ → weights reference (a cached model name or a file) for the pipeline; φ not listed run seeded. */
  chosen: Record<string, string>;
  /** The φ that run untrained seeded weights, with the reason. */
  seeded: Extract<DefaultWeights, { kind: "seeded" }>[];
}

/** The cached COCO model per φ (pulled on first use unless offline); seeded where none can be had. */
export async function resolveWeights(
  phis: readonly PhiValue[],
  options: { offline?: boolean; quiet?: boolean } = {},
): Promise<ChosenWeights> {
  const chosen: Record<string, string> = {};
  const seeded: ChosenWeights["seeded"] = [];
  for (const phi of phis) {
    const found = await defaultWeights(phi, {
      offline: options.offline ? true : undefined,
      onEvent: (event) => {
        if (options.quiet) return;
        if (event.type === "download")
          process.stderr.write(`pulling ${event.name} (COCO weights, first use) from ${event.url}\n`);
        if (event.type === "stored") process.stderr.write(`pulled ${event.name} into the model cache\n`);
      },
    });
    if (found.kind === "trained") chosen[String(phi)] = found.name;
    else seeded.push(found);
  }
  return { chosen, seeded };
}

/** The banner printed before a run on seeded weights: why, what it means, the one command that fixes it. */
export function seededBanner(seeded: ChosenWeights["seeded"]): string {
  const [first] = seeded;
  const names = seeded.map((s) => s.name).join(", ");
  return (
    `weights: ${SEEDED_WEIGHTS_LABEL} for ${names}: ${first.reason}.\n` +
    "  The network is untrained: it finds no objects, so expect no boxes and no tracks.\n" +
    `  For real detections: ${first.hint}.\n`
  );
}

/** "d0 (COCO)", "untrained (seeded)", or a named file/model, for the summary line. */
export function weightsSummary(phis: readonly PhiValue[], weights: ChosenWeights): string {
  return phis
    .map((phi) => {
      const reference = weights.chosen[String(phi)];
      if (reference === undefined) return SEEDED_WEIGHTS_LABEL;
      return reference === publishedName(phi) ? `${reference} (COCO)` : reference;
    })
    .filter((w, i, all) => all.indexOf(w) === i)
    .join(", ");
}

/** What a run wrote, file by file, with what is in it; and why there are no boxes when the weights were seeded. */
export function describeOutputs(dir: string, seeded: ChosenWeights["seeded"]): string {
  const lines = [`results in ${dir}:`];
  const size = (name: string) => {
    const bytes = statSync(join(dir, name)).size;
    return bytes < 1024
      ? `${bytes} B`
      : bytes < 1 << 20
        ? `${(bytes / 1024).toFixed(1)} KiB`
        : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  };
  let detections = 0;
  if (existsSync(join(dir, "tracks.jsonl"))) {
    const frames = readFileSync(join(dir, "tracks.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "");
    for (const line of frames)
      detections += (JSON.parse(line) as { detections: unknown[] }).detections.length;
    lines.push(
      `  tracks.jsonl    ${size("tracks.jsonl")}: ${frames.length} frame lines, ${detections} detections`,
    );
  }
  if (existsSync(join(dir, "tracks.mot.txt")))
    lines.push(`  tracks.mot.txt  ${size("tracks.mot.txt")}: MOTChallenge rows`);
  if (existsSync(join(dir, REFINED_MOT_FILE)))
    lines.push(
      `  ${REFINED_MOT_FILE}  ${size(REFINED_MOT_FILE)}: MOTChallenge rows after the offline refinement`,
    );
  if (existsSync(join(dir, "summary.json"))) {
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as { tracks: number };
    lines.push(`  summary.json    ${size("summary.json")}: ${summary.tracks} tracks`);
  }
  if (existsSync(join(dir, "manifest.json")))
    lines.push(`  manifest.json   ${size("manifest.json")}: what ran (φ, weights, timings)`);
  if (existsSync(join(dir, "events.jsonl")))
    lines.push(`  events.jsonl    ${size("events.jsonl")}: zone enter/exit and line crossing events`);
  if (existsSync(join(dir, "analytics.json")))
    lines.push(
      `  analytics.json  ${size("analytics.json")}: counts, occupancy, dwell per zone / line and class`,
    );
  if (existsSync(join(dir, "preview.mp4")))
    lines.push(
      `  preview.mp4     ${size("preview.mp4")}: the processed part of the video with the tracks drawn`,
    );
  if (seeded.length > 0 && detections === 0)
    lines.push(`no boxes: the weights were ${SEEDED_WEIGHTS_LABEL}. For real ones, ${seeded[0].hint}.`);
  return `${lines.join("\n")}\n`;
}
