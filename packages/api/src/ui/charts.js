// φ per sampled frame as a step chart on a canvas (failed frames marked red).

/** `phis`: every φ in order with its name, as GET /meta lists them. */
export function drawPhiChart(canvas, frames, phis) {
  const order = phis.map((p) => String(p.phi));
  const label = (phi) => phis[order.indexOf(String(phi))]?.label ?? String(phi);
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  const used = [...new Set(frames.filter((f) => f.phi !== undefined).map((f) => String(f.phi)))].sort(
    (a, b) => order.indexOf(a) - order.indexOf(b),
  );
  const levels =
    used.length > 0 ? order.slice(0, Math.max(...used.map((p) => order.indexOf(p))) + 1) : order.slice(0, 1);
  const left = 34;
  const bottom = height - 18;
  const top = 8;
  const plotWidth = width - left - 8;
  const n = Math.max(1, frames.length);
  const yOf = (phi) => bottom - ((order.indexOf(String(phi)) + 0.5) / levels.length) * (bottom - top);
  ctx.strokeStyle = "#d1d5db";
  ctx.fillStyle = "#6b7280";
  ctx.font = "11px system-ui, sans-serif";
  for (const level of levels) {
    const y = yOf(level);
    ctx.beginPath();
    ctx.moveTo(left, y);
    ctx.lineTo(width - 8, y);
    ctx.stroke();
    ctx.fillText(label(level), 4, y + 4);
  }
  if (frames.length === 0) {
    ctx.fillText("no frames written", left, height - 4);
  } else {
    ctx.fillText("frame 0", left, height - 4);
    ctx.fillText(String(frames.length - 1), width - 30, height - 4);
  }
  ctx.strokeStyle = "#2563eb";
  ctx.lineWidth = 2;
  ctx.beginPath();
  let started = false;
  frames.forEach((f, i) => {
    const x0 = left + (i / n) * plotWidth;
    const x1 = left + ((i + 1) / n) * plotWidth;
    if (f.error || f.phi === undefined) {
      ctx.save();
      ctx.fillStyle = "#dc2626";
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), bottom - top);
      ctx.restore();
      return;
    }
    const y = yOf(f.phi);
    if (!started) {
      ctx.moveTo(x0, y);
      started = true;
    } else ctx.lineTo(x0, y);
    ctx.lineTo(x1, y);
  });
  ctx.stroke();
  const histogram = {};
  for (const f of frames)
    if (f.phi !== undefined) histogram[label(f.phi)] = (histogram[label(f.phi)] ?? 0) + 1;
  return histogram;
}
