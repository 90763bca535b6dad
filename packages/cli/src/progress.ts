// Progress for long work: a bar on a terminal, a plain line every few seconds otherwise (logs, CI).

import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, total: number | null, detail: string): void;
  stop(): void;
}

export function createProgress(unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `{bar} {percentage}% | {value}/{total} ${unit} | {detail}`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, detail) {
        const t = Math.max(total ?? done, done, 1);
        if (!started) {
          bar.start(t, done, { detail });
          started = true;
        } else {
          bar.setTotal(t);
          bar.update(done, { detail });
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
      stream.write(`${done}${total ? `/${total}` : ""} ${unit} (${detail})\n`);
    },
    stop() {},
  };
}
