// `vdet stream add|list|show|rm`: streams on a running api (VDET_API_URL, VDET_API_TOKEN). A stream is a live
// source (rtsp(s):// or an http(s):// HLS playlist) watched until it is removed, its tracks written in time-based
// parts (docs/live.md).

import type { NotificationDelivery, StreamPart, StreamSpecInput, StreamView } from "@vdet/protocol";
import type { Command } from "commander";
import { absoluteLocation, checkLocalOutput } from "../local-paths.ts";
import { integer, positiveNumber, probability } from "../options.ts";
import { addClientOptions, call, clientOptions } from "./jobs.ts";

interface AddOptions {
  api?: string;
  token?: string;
  out: string;
  budget: number;
  name?: string;
  fps?: number;
  phi?: string;
  maxPhi?: string;
  scoreThreshold?: number;
  classes?: string;
  priority?: number;
  partMinutes?: number;
  idempotencyKey?: string;
  json?: boolean;
}

const percent = (rate: number | null) => (rate === null ? "-" : `${(rate * 100).toFixed(1)} %`);
const perSecond = (fps: number | null) => (fps === null ? "-" : fps.toFixed(1));

/** One line per stream: id, state, frame rates in and out, deadline hit rate, φ, name. */
function streamLine(s: StreamView): string {
  return [
    s.id,
    s.state.padEnd(12),
    `in ${perSecond(s.fpsIn)}/s`.padEnd(12),
    `out ${perSecond(s.fpsOut)}/s`.padEnd(13),
    `hit ${percent(s.deadlineHitRate)}`.padEnd(12),
    `φ ${s.phi ?? "-"}`.padEnd(5),
    s.name ?? s.input,
  ].join("  ");
}

export function registerStreamCommands(program: Command): void {
  const stream = program
    .command("stream")
    .description("live streams on a running api: add, list, show, remove (docs/live.md)");

  addClientOptions(
    stream
      .command("add")
      .description(
        "add a stream: a live source watched until it is removed, tracks written in time-based parts",
      )
      .argument("<input>", "rtsp(s):// URL or http(s):// HLS playlist")
      .requiredOption("--out <location>", "s3://bucket/prefix or a directory (on the server)")
      .requiredOption("--budget <ms>", "latency budget per frame", integer("--budget", 10, 3_600_000)),
  )
    .option("--name <name>", "a name for people (dashboard, stream list)")
    .option("--fps <n>", "frames per second to sample (default 5)", positiveNumber("--fps"))
    .option("--phi <φ>", "smallest φ (default 0)")
    .option("--max-phi <φ>", "largest φ (default 3)")
    .option("--score-threshold <p>", "minimum detection score", probability)
    .option("--classes <names>", "keep only these classes, e.g. person,car")
    .option("--priority <n>", "1 (first) … 10", integer("--priority", 1, 10))
    .option(
      "--part-minutes <n>",
      "minutes of tracks per tracks.jsonl part (default 10)",
      positiveNumber("--part-minutes"),
    )
    .option("--idempotency-key <key>", "same key, same stream")
    .option("--json", "the stream as JSON on stdout")
    .action(async (input: string, o: AddOptions) => {
      checkLocalOutput(o.out);
      const spec: StreamSpecInput = {
        input,
        output: absoluteLocation(o.out),
        latencyBudgetMs: o.budget,
        sampling: { fps: o.fps ?? 5 },
        phi: { min: o.phi ?? 0, max: o.maxPhi ?? 3 },
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.scoreThreshold !== undefined ? { scoreThreshold: o.scoreThreshold } : {}),
        ...(o.classes !== undefined ? { classes: o.classes.split(",").map((c) => c.trim()) } : {}),
        ...(o.priority !== undefined ? { priority: o.priority } : {}),
        ...(o.partMinutes !== undefined ? { partMinutes: o.partMinutes } : {}),
        ...(o.idempotencyKey !== undefined ? { idempotencyKey: o.idempotencyKey } : {}),
      };
      const { stream: added, created } = (await call(clientOptions(o), "POST", "/streams", spec)) as {
        stream: StreamView;
        created: boolean;
      };
      if (o.json) process.stdout.write(`${JSON.stringify({ stream: added, created })}\n`);
      else process.stdout.write(`${added.id} ${created ? "added" : "already added"} ${input}\n`);
    });

  addClientOptions(
    stream.command("list").description("list streams: state, frame rates, deadline hit rate, φ"),
  )
    .option("--json", "machine-readable output")
    .action(async (o: { api?: string; token?: string; json?: boolean }) => {
      const client = clientOptions(o);
      const all: StreamView[] = [];
      let after: string | null = null;
      do {
        const query: string = after ? `?after=${encodeURIComponent(after)}` : "";
        const page = (await call(client, "GET", `/streams${query}`)) as {
          streams: StreamView[];
          next: string | null;
        };
        all.push(...page.streams);
        after = page.next;
      } while (after);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        return;
      }
      if (all.length === 0) process.stdout.write("no streams\n");
      for (const s of all) process.stdout.write(`${streamLine(s)}\n`);
    });

  addClientOptions(
    stream.command("show").description("show a stream and its tracks.jsonl parts").argument("<id>"),
  )
    .option("--json", "machine-readable output")
    .action(async (id: string, o: { api?: string; token?: string; json?: boolean }) => {
      const body = (await call(clientOptions(o), "GET", `/streams/${encodeURIComponent(id)}`)) as {
        stream: StreamView;
        parts: StreamPart[];
        unlisted: number;
      };
      const { deliveries } = (await call(
        clientOptions(o),
        "GET",
        `/streams/${encodeURIComponent(id)}/notifications`,
      )) as { deliveries: NotificationDelivery[] };
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...body, deliveries }, null, 2)}\n`);
        return;
      }
      const s = body.stream;
      process.stdout.write(
        `${streamLine(s)}\n  input ${s.input}\n  output ${s.output} (a part every ${s.partMinutes} min)\n` +
          `  frames decoded ${s.job.progress.decoded}, written ${s.job.progress.written}, failed ${s.job.progress.failed}\n` +
          (body.unlisted > 0 ? `  ${body.unlisted} older part(s) not listed\n` : "") +
          body.parts
            .map(
              (p) =>
                `  ${p.key}  ${p.lines} lines  ${p.complete ? `${p.sizeBytes} bytes` : "being written"}\n`,
            )
            .join("") +
          s.job.errors.map((e) => `  error: ${e.message}\n`).join("") +
          // The last notification attempts (GET /streams/:id/notifications has them all).
          deliveries
            .slice(-5)
            .map(
              (d) =>
                `  notify ${new Date(d.atMs).toISOString()} ${d.type} → ${d.channel} ${d.target} ` +
                `attempt ${d.attempt}: ${d.ok ? "delivered" : "failed"}${d.status !== undefined ? ` (${d.status})` : ""}${d.error ? ` ${d.error}` : ""}\n`,
            )
            .join(""),
      );
    });

  addClientOptions(
    stream
      .command("rm")
      .description("remove a stream: decoding stops, what was read is written, the last part completed")
      .argument("<id>"),
  ).action(async (id: string, o: { api?: string; token?: string }) => {
    await call(clientOptions(o), "DELETE", `/streams/${encodeURIComponent(id)}`);
    process.stdout.write(`${id}: removal requested (the stream is stopped once its output is final)\n`);
  });
}
