// Each export is read back with an independent reader and compared with the source tracks (round trip):
// frames, track ids, boxes, classes where the format carries them, and CVAT's outside flags at gaps and ends.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { parseMotText } from "@vdet/mot-eval";
import type { TrackFrame } from "@vdet/render";
import { execVdet } from "../testing/vdet.ts";
import { loadTracks } from "./tracks-source.ts";

const dir = mkdtempSync(join(tmpdir(), "vdet-cli-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const size = { width: 640, height: 360 };

/** 12 frames: track 7 (car) throughout but missing in frames 4–5, track 9 (person) in frames 2–6, one untracked box. */
function jobFrames(): TrackFrame[] {
  const frames: TrackFrame[] = [];
  for (let k = 0; k < 12; k++) {
    const detections: TrackFrame["detections"] = [];
    if (k !== 4 && k !== 5)
      detections.push({
        box: [10 + k * 5.25, 20.5, 60 + k * 5.25, 80.75],
        score: 0.9,
        class: 3,
        label: "car",
        trackId: 7,
      });
    if (k >= 2 && k <= 6)
      detections.push({
        box: [300, 100 + k, 330.5, 180 + k],
        score: 0.625,
        class: 1,
        label: "person",
        trackId: 9,
      });
    detections.push({ box: [500, 10, 520, 30], score: 0.4, class: 3, label: "car", trackId: null });
    frames.push({ frame: k, ptsMs: k * 200, phi: 0, detections });
  }
  return frames;
}

/** (k, trackId) → box and class of the source's tracked boxes. */
function expected(): Map<string, { box: number[]; class: number }> {
  const m = new Map<string, { box: number[]; class: number }>();
  for (const f of jobFrames())
    for (const d of f.detections)
      if (d.trackId !== null) m.set(`${f.frame}:${d.trackId}`, { box: d.box, class: d.class });
  return m;
}

function assertBoxesMatch(
  actual: Map<string, { box: number[]; class?: number }>,
  tolerance: number,
  withClass: boolean,
) {
  const want = expected();
  assert.deepEqual([...actual.keys()].sort(), [...want.keys()].sort(), "the same (frame, track) pairs");
  for (const [key, w] of want) {
    const a = actual.get(key)!;
    a.box.forEach((v, i) => {
      assert.ok(Math.abs(v - w.box[i]) <= tolerance, `${key} box[${i}]: ${v} vs ${w.box[i]}`);
    });
    if (withClass) assert.equal(a.class, w.class, `${key} class`);
  }
}

const jobDir = join(dir, "job-1");
mkdirSync(jobDir);
writeFileSync(
  join(jobDir, "tracks.jsonl"),
  jobFrames()
    .map((f) => `${JSON.stringify(f)}\n`)
    .join(""),
);
writeFileSync(join(jobDir, "manifest.json"), JSON.stringify({ video: { ...size, fps: 5 }, labels: {} }));

async function exportTo(format: string, ...extra: string[]): Promise<string> {
  const out = join(dir, `out-${format}-${extra.length}`);
  await execVdet(["export", jobDir, "--format", format, "--out", out, ...extra]);
  return out;
}

test("CVAT for video 1.1: tracks with per-frame keyframes, outside at gaps and ends, labels from the job", async () => {
  const xml = readFileSync(join(await exportTo("cvat"), "annotations.xml"), "utf8");
  assert.match(xml, /<version>1\.1<\/version>/);
  assert.match(xml, /<original_size>\s*<width>640<\/width>\s*<height>360<\/height>/);
  const labels = [...xml.matchAll(/<label>\s*<name>([^<]*)<\/name>/g)].map((m) => m[1]);
  assert.deepEqual(labels, ["person", "car"]);
  const boxes = new Map<string, { box: number[]; class: number }>();
  const outside: string[] = [];
  const classOf: Record<string, number> = { car: 3, person: 1 };
  for (const t of xml.matchAll(/<track id="(\d+)" label="([^"]*)"[^>]*>([\s\S]*?)<\/track>/g)) {
    for (const b of t[3].matchAll(
      /<box frame="(\d+)" outside="(\d)" occluded="0" keyframe="(\d)" xtl="([^"]+)" ytl="([^"]+)" xbr="([^"]+)" ybr="([^"]+)"/g,
    )) {
      assert.equal(b[3], "1", "every written box is a keyframe");
      if (b[2] === "1") outside.push(`${b[1]}:${t[1]}`);
      else boxes.set(`${b[1]}:${t[1]}`, { box: b.slice(4, 8).map(Number), class: classOf[t[2]] });
    }
  }
  assertBoxesMatch(boxes, 0, true);
  assert.deepEqual(outside.sort(), ["4:7", "7:9"], "outside where track 7 is missed and after track 9 ends");
});

test("COCO: an image per frame with video_id / frame_id, annotations with track_id and category ids", async () => {
  const coco = JSON.parse(readFileSync(join(await exportTo("coco"), "annotations.json"), "utf8"));
  assert.deepEqual(coco.videos, [{ id: 1, name: "job-1", ...size }]);
  assert.equal(coco.images.length, 12);
  assert.deepEqual(coco.tracks, [
    { id: 7, category_id: 3, video_id: 1 },
    { id: 9, category_id: 1, video_id: 1 },
  ]);
  assert.deepEqual(coco.categories, [
    { id: 1, name: "person", supercategory: "object" },
    { id: 3, name: "car", supercategory: "object" },
  ]);
  const frameOf = new Map<number, number>(
    coco.images.map((i: { id: number; frame_id: number }) => [i.id, i.frame_id]),
  );
  const boxes = new Map<string, { box: number[]; class: number }>();
  for (const a of coco.annotations) {
    const [x, y, w, h] = a.bbox;
    assert.equal(a.video_id, 1);
    assert.equal(a.area, w * h);
    boxes.set(`${frameOf.get(a.image_id)}:${a.track_id}`, {
      box: [x, y, x + w, y + h],
      class: a.category_id,
    });
  }
  assertBoxesMatch(boxes, 1e-9, true);
});

test("MOTChallenge result file: frame k + 1, id, x, y, w, h, score", async () => {
  const text = readFileSync(join(await exportTo("mot"), "job-1.txt"), "utf8");
  const rows = parseMotText(text, { kind: "res" });
  const boxes = new Map<string, { box: number[] }>();
  for (let r = 0; r < rows.count; r++) {
    const [x, y, w, h] = rows.box.subarray(r * 4, r * 4 + 4);
    boxes.set(`${rows.frame[r] - 1}:${rows.id[r]}`, { box: [x, y, x + w, y + h] });
  }
  assertBoxesMatch(boxes, 1e-3, false);
  // And back through the MOT reader of the offline commands.
  const again = loadTracks(join(dir, "out-mot-0", "job-1.txt"));
  assert.equal(again.frames.length, 12);
});

test("YOLO: one labels file per frame, class cx cy w h track_id normalised by the manifest's size", async () => {
  const out = await exportTo("yolo");
  const files = readdirSync(join(out, "labels")).sort();
  assert.equal(files.length, 12, "empty frames get empty files too");
  const yaml = readFileSync(join(out, "data.yaml"), "utf8");
  const names = JSON.parse(/names: (\[.*\])/.exec(yaml)![1]) as string[];
  assert.equal(names[0], "person");
  assert.equal(names[2], "car");
  const boxes = new Map<string, { box: number[]; class: number }>();
  for (const file of files) {
    const k = Number(file.replace(".txt", ""));
    for (const line of readFileSync(join(out, "labels", file), "utf8")
      .split("\n")
      .filter(Boolean)) {
      const [c, cx, cy, w, h, id] = line.split(" ").map(Number);
      const box = [
        (cx - w / 2) * size.width,
        (cy - h / 2) * size.height,
        (cx + w / 2) * size.width,
        (cy + h / 2) * size.height,
      ];
      boxes.set(`${k}:${id}`, { box, class: c + 1 });
    }
  }
  assertBoxesMatch(boxes, 1e-3, true);
});

test("YOLO without a known video size fails with what to give", async () => {
  const bare = join(dir, "bare.jsonl");
  writeFileSync(
    bare,
    jobFrames()
      .map((f) => `${JSON.stringify(f)}\n`)
      .join(""),
  );
  await assert.rejects(
    execVdet(["export", bare, "--format", "yolo", "--out", join(dir, "bare-out")]),
    /give --size WxH/,
  );
  await execVdet(["export", bare, "--format", "yolo", "--out", join(dir, "bare-out"), "--size", "640x360"]);
  await assert.rejects(
    execVdet(["export", bare, "--format", "xml", "--out", dir]),
    /--format must be one of/,
  );
});
