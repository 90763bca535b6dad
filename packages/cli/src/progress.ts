// Progress for long work on stderr: a bar with done/total, rate and ETA on a terminal; a plain line every few
// seconds otherwise (logs, CI), so stdout stays free for results (and --json).

import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, total: number | null, detail: string): void;
  stop(): void;
}

/** "12.3 frames/s, ETA 0:42" from the work done since the first update. */
export function rateAndEta(
  unit: string,
  done: number,
  total: number | null,
  elapsedMs: number,
): { rate: string; eta: string } {
  const perSecond = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const rate = `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} ${unit}/s`;
  if (total === null || perSecond <= 0 || done >= total)
    return { rate, eta: total !== null && done >= total ? "0:00" : "?" };
  const seconds = Math.round((total - done) / perSecond);
  const eta = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  return { rate, eta };
}

export function createProgress(unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const startedAt = Date.now();
  let firstDone: number | null = null;
  const measure = (done: number, total: number | null) => {
    firstDone ??= done;
    return rateAndEta(
      unit,
      done - firstDone,
      total === null ? null : total - firstDone,
      Date.now() - startedAt,
    );
  };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `{bar} {percentage}% | {value}/{total} ${unit} | {rate} | ETA {eta} | {detail}`,
        stream,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail) {
        const t = Math.max(total ?? done, done, 1);
        const payload = { detail, ...measure(done, total) };
        if (!started) {
          bar.start(t, done, payload);
          started = true;
        } else {
          bar.setTotal(t);
          bar.update(done, payload);
        }
      },
      stop: () => bar.stop(),
    };
  }
  let lastLine = 0;
  return {
    update(done, total, detail) {
      if (Date.now() - lastLine < 5000) return;
      lastLine = Date.now();
      const { rate, eta } = measure(done, total);
      stream.write(`${done}${total ? `/${total}` : ""} ${unit}, ${rate}, ETA ${eta} (${detail})\n`);
    },
    stop() {},
  };
}
