// Reads ffmpeg's stderr (run with `-loglevel level+info`, so each line carries its level) and turns a failure
// into the matching typed error, with ffmpeg's own reason line in it.

import {
  NotAVideoError,
  NoVideoStreamError,
  UnsupportedCodecError,
  VideoDecodeError,
  type VideoError,
  type VideoErrorDetails,
  VideoInputRejectedError,
  VideoNotFoundError,
  VideoUnreachableError,
} from "./errors.ts";
import type { ResolvedInput } from "./input.ts";

export type LogLevel =
  | "panic"
  | "fatal"
  | "error"
  | "warning"
  | "info"
  | "verbose"
  | "debug"
  | "trace"
  | "none";

export interface LogLine {
  /** The filter or demuxer instance that logged, e.g. "showinfo@src" or "mov,mp4,m4a,3gp,3g2,mj2". */
  context: string;
  level: LogLevel;
  message: string;
}

// "[ctx @ 0x55d5c1c0] [error] message", "[error] message", or a continuation line without a level.
const LINE =
  /^(?:\[([^\]]+?) @ 0x[0-9a-f]+\] )?\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ?(.*)$/;

export function parseLogLine(line: string): LogLine {
  const match = LINE.exec(line);
  if (match === null) return { context: "", level: "none", message: line };
  return { context: match[1] ?? "", level: match[2] as LogLevel, message: match[3] ?? "" };
}

const TAIL_LINES = 30;
const KEPT_PROBLEMS = 20;

/** Keeps what an error report needs from a long-running ffmpeg's stderr, in bounded memory. */
export class StderrDigest {
  private readonly tail: string[] = [];
  private readonly problems: LogLine[] = [];

  add(raw: string, parsed: LogLine = parseLogLine(raw)): void {
    if (raw === "") return;
    this.tail.push(raw);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    if (
      parsed.level === "panic" ||
      parsed.level === "fatal" ||
      parsed.level === "error" ||
      parsed.level === "warning"
    ) {
      this.problems.push(parsed);
      if (this.problems.length > KEPT_PROBLEMS) this.problems.shift();
    }
  }

  addText(text: string): void {
    for (const raw of text.split(/\r\n|\r|\n/)) if (raw !== "") this.add(raw);
  }

  tailLines(): string[] {
    return [...this.tail];
  }

  /** Error-level lines (warnings when there are none), last three, for the `reason` of an error. */
  reason(redact: (text: string) => string): string | undefined {
    const severe = this.problems.filter((p) => p.level !== "warning");
    const chosen = (severe.length > 0 ? severe : this.problems).slice(-3).map(describeProblem);
    const distinct = chosen.filter((line, i) => line !== "" && chosen.indexOf(line) === i);
    return distinct.length === 0 ? undefined : redact(distinct.join("; "));
  }

  /** Error-level messages, then warnings: classification tries the severe ones first. */
  problemTexts(): [severe: string, warnings: string] {
    const text = (keep: (p: LogLine) => boolean) =>
      this.problems
        .filter(keep)
        .map((p) => p.message)
        .join("\n");
    return [text((p) => p.level !== "warning"), text((p) => p.level === "warning")];
  }
}

/** ffmpeg's line, with the one that lists our whole demuxer whitelist shortened to the format it detected. */
function describeProblem(problem: LogLine): string {
  if (problem.message.startsWith("Format not on whitelist")) {
    return `detected format "${problem.context}" is not an accepted video container`;
  }
  return problem.message.trim();
}

interface Rule {
  test: RegExp;
  make: (details: VideoErrorDetails, match: RegExpExecArray, input: ResolvedInput) => VideoError;
}

// Order matters: the first rule matching an error line wins (warnings are tried only when none does).
const RULES: Rule[] = [
  {
    test: /Protocol '([^']+)' not on whitelist/,
    make: (d, m) =>
      new VideoInputRejectedError(`ffmpeg refused to open protocol "${m[1]}" for this input kind`, d),
  },
  {
    test: /No such file or directory|Server returned 404|Server returned 410/,
    make: (d) => new VideoNotFoundError("video not found; check the path or URL", d),
  },
  {
    test: /Connection refused|timed out|Failed to resolve|Name or service not known|Network is unreachable|No route to host|Connection reset|Server returned [45]\d\d|Server returned [45]XX|Broken pipe|I\/O error/i,
    make: (d) =>
      new VideoUnreachableError("could not read the video over the network; check the URL and the server", d),
  },
  {
    test: /matches no streams|does not contain any stream|Output file #?\d* ?does not contain any stream/,
    make: (d) =>
      new NoVideoStreamError(
        "the input has no video stream (audio only, or cover art only); submit a video",
        d,
      ),
  },
  {
    test: /Decoder \(codec ([^)]+)\) not found|Unsupported codec|unknown codec|Codec .* is not supported|Failed to open codec/,
    make: (d) =>
      new UnsupportedCodecError(
        "the video codec cannot be decoded by this ffmpeg; re-encode the video (e.g. to H.264) or install a fuller ffmpeg",
        d,
      ),
  },
  {
    test: /moov atom not found/,
    make: (d, _m, input) =>
      new NotAVideoError(
        input.kind === "stream"
          ? "MP4 without its index (moov atom) at the start cannot be read from a stream; remux with -movflags +faststart, use a seekable source (file or URL), or check that the file is complete"
          : "the MP4 has no index (moov atom): the file is truncated or was never finished; upload it again",
        d,
      ),
  },
  {
    test: /Invalid data found when processing input|Format not on whitelist|could not find codec parameters|End of file|invalid partition|Header missing/i,
    make: (d) =>
      new NotAVideoError(
        "the input is not a readable video (unknown format, corrupt or truncated); check that it is a video file",
        d,
      ),
  },
];

/** The typed error for a failed ffmpeg/ffprobe run, from what it logged. */
export function classifyFailure(
  digest: StderrDigest,
  input: ResolvedInput,
  exitCode: number | null,
  what: "ffmpeg" | "ffprobe",
): VideoError {
  const redact = redactor(input);
  const details: VideoErrorDetails = {
    input: input.display,
    reason: digest.reason(redact),
    exitCode,
    stderrTail: digest.tailLines().map(redact),
  };
  for (const problems of digest.problemTexts()) {
    for (const rule of RULES) {
      const match = rule.test.exec(problems);
      if (match !== null) return rule.make(details, match, input);
    }
  }
  return new VideoDecodeError(
    `${what} failed (exit code ${exitCode ?? "none"}); see the reason and stderrTail, or try the input with ${what} directly`,
    details,
  );
}

const NETWORK_CUT = /Connection timed out|timed out|Connection reset|Broken pipe|I\/O error|Server returned/i;
const INPUT_CUT = /partial file|Error during demuxing|unexpected end of file/i;

/**
 * ffmpeg treats a read error mid-input (a truncated file, a dropped connection) as the end of the input and
 * exits 0. The error lines it logged on the way tell a complete input from a cut one; decode errors in single
 * packets (common in camera footage) do not count.
 */
export function classifyCutShort(digest: StderrDigest, input: ResolvedInput): VideoError | undefined {
  const [severe] = digest.problemTexts();
  const redact = redactor(input);
  const details = (): VideoErrorDetails => ({
    input: input.display,
    reason: digest.reason(redact),
    exitCode: 0,
    stderrTail: digest.tailLines().map(redact),
  });
  if (NETWORK_CUT.test(severe)) {
    return new VideoUnreachableError(
      "the connection to the input failed part-way; the frames before the failure were delivered, the rest are missing",
      details(),
    );
  }
  if (INPUT_CUT.test(severe)) {
    return new NotAVideoError(
      "the video is truncated: ffmpeg reached the end of the data early; the frames before the cut were delivered",
      details(),
    );
  }
  return undefined;
}

/** ffmpeg's HLS demuxer lost a live playlist (reload failed) and will end the input as if it were complete. */
export const PLAYLIST_LOST = /Failed to reload playlist/;

/** The error for a live HLS input that ended because its playlist could no longer be reloaded. */
export function playlistLostError(digest: StderrDigest, input: ResolvedInput): VideoUnreachableError {
  const redact = redactor(input);
  return new VideoUnreachableError(
    "the live playlist could not be reloaded (the stream went away or stopped answering); the frames before were delivered, the stream did not end",
    {
      input: input.display,
      reason: digest.reason(redact),
      exitCode: 0,
      stderrTail: digest.tailLines().map(redact),
    },
  );
}

export function redactor(input: ResolvedInput): (text: string) => string {
  const secret = input.secret;
  if (secret === undefined) return (text) => text;
  return (text) => text.split(secret).join(input.display);
}
