// Plays a video with the tracks drawn over it on a canvas, in step with playback: at time t the boxes of the
// latest sampled frame at or before t (as in the annotated video), each in its track's colour with
// "label #id", and a short trail of each track's recent centres; with zones, each zone and line with its counts
// as of t (zones.js).
import { trackColor } from "./api.js";
import { countsAt, drawShapes, resolveShapes } from "./zones.js";

export class Viewer {
  constructor(video, canvas) {
    this.video = video;
    this.canvas = canvas;
    this.frames = [];
    this.trails = true;
    this.minScore = 0;
    this.enabled = true;
    this.trailLength = 12;
    this.zones = null;
    this.events = [];
    const loop = () => {
      this.draw();
      if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(loop);
      else requestAnimationFrame(loop);
    };
    loop();
    for (const event of ["seeked", "loadeddata", "resize", "pause"])
      video.addEventListener(event, () => this.draw());
    window.addEventListener("resize", () => this.draw());
  }

  setTracks(frames) {
    this.frames = frames.filter((f) => typeof f.ptsMs === "number").sort((a, b) => a.ptsMs - b.ptsMs);
    this.draw();
  }

  /** The job spec's zones and lines, and events.jsonl so far (their counts follow playback). */
  setZones(zones, events) {
    this.zones = zones;
    this.events = events;
    this.draw();
  }

  /** Index of the latest sampled frame at or before `ms`, or -1. */
  frameAt(ms) {
    let lo = 0;
    let hi = this.frames.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.frames[mid].ptsMs <= ms + 0.5) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  draw() {
    const { video, canvas } = this;
    const width = video.clientWidth;
    const height = video.clientHeight;
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, width, height);
    let drawn = 0;
    const index = this.enabled && video.videoWidth ? this.frameAt(video.currentTime * 1000) : -1;
    const scale = Math.min(width / video.videoWidth, height / video.videoHeight);
    const dx = (width - video.videoWidth * scale) / 2;
    const dy = (height - video.videoHeight * scale) / 2;
    const x = (v) => dx + v * scale;
    const y = (v) => dy + v * scale;
    if (index >= 0) {
      if (this.trails) {
        const paths = new Map();
        for (let i = Math.max(0, index - this.trailLength + 1); i <= index; i++) {
          for (const d of this.frames[i].detections) {
            if (d.trackId === null || d.score < this.minScore) continue;
            if (!paths.has(d.trackId)) paths.set(d.trackId, []);
            paths.get(d.trackId).push([x((d.box[0] + d.box[2]) / 2), y((d.box[1] + d.box[3]) / 2)]);
          }
        }
        ctx.lineWidth = 2;
        for (const [id, points] of paths) {
          if (points.length < 2) continue;
          ctx.strokeStyle = trackColor(id);
          ctx.beginPath();
          points.forEach(([px, py], i) => {
            if (i === 0) ctx.moveTo(px, py);
            else ctx.lineTo(px, py);
          });
          ctx.stroke();
        }
      }
      ctx.font = "12px system-ui, sans-serif";
      ctx.textBaseline = "top";
      for (const d of this.frames[index].detections) {
        if (d.score < this.minScore) continue;
        const color = trackColor(d.trackId);
        const [x1, y1, x2, y2] = [x(d.box[0]), y(d.box[1]), x(d.box[2]), y(d.box[3])];
        ctx.strokeStyle = color;
        ctx.lineWidth = 2;
        ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
        const text = d.trackId === null ? d.label : `${d.label} #${d.trackId}`;
        const w = ctx.measureText(text).width + 6;
        const top = y1 >= 16 ? y1 - 16 : y1;
        ctx.fillStyle = color;
        ctx.fillRect(x1, top, w, 16);
        ctx.fillStyle = "#000";
        ctx.fillText(text, x1 + 3, top + 2);
        drawn++;
      }
    }
    // Zones last: their counts stay readable over the boxes.
    let labels = [];
    if (this.enabled && this.zones && video.videoWidth) {
      ctx.font = "12px system-ui, sans-serif";
      ctx.textBaseline = "top";
      const shapes = resolveShapes(this.zones, video.videoWidth, video.videoHeight);
      labels = drawShapes(ctx, shapes, countsAt(this.events, video.currentTime * 1000), x, y);
    }
    canvas.dataset.zones = labels.join(" | ");
    canvas.dataset.boxes = String(drawn);
    canvas.dataset.frame = String(index);
  }
}
