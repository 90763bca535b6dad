// The one way tests and benchmarks run the `vdet` binary (bin/vdet.mjs) as a process: a command to its end
// (`execVdet`, `runVdet`), or a long-running role (`startRole`): the child, its output captured (and echoed when
// asked), waiting for a line, stopping and killing.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const vdetBin = fileURLToPath(new URL("../../../bin/vdet.mjs", import.meta.url));

export interface VdetCommandOptions {
  cwd?: string;
  /** Set over the parent's environment. */
  env?: Record<string, string | undefined>;
}

/** Runs `vdet …args`; resolves with its output, rejects with execFile's error (stderr in its message) on failure. */
export function execVdet(
  args: string[],
  options: VdetCommandOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [vdetBin, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => (error ? reject(error) : resolve({ stdout, stderr })),
    );
  });
}

/** Runs `vdet …args` to its end and never rejects: its exit code and output. */
export function runVdet(
  args: string[],
  options: VdetCommandOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [vdetBin, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface RoleOptions {
  /** Arguments after the role name (`--prefix`, `--max-batch`, …). */
  args?: string[];
  /** Set over the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Echo the role's output to this process's stderr as it comes, each chunk after this label. */
  echo?: string;
}

export interface RoleProcess {
  name: string;
  child: ChildProcess;
  /** Everything the role wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves when the output contains `text`; rejects if the role exits first or `timeoutMs` passes. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Whether the process is still running. */
  running(): boolean;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGKILL, waits until the process is gone, and checks that SIGKILL is what ended it. */
  kill9(): Promise<void>;
}

/** Starts `vdet <role> …args` with `env` over the parent's environment. */
export function startRole(role: string, options: RoleOptions = {}): RoleProcess {
  let output = "";
  const child = spawn(process.execPath, [vdetBin, role, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const collect = (d: Buffer) => {
    output += d.toString();
    if (options.echo !== undefined) process.stderr.write(`${options.echo}${d}`);
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const running = () => child.exitCode === null && child.signalCode === null;
  const matches = (text: string | RegExp) =>
    typeof text === "string" ? output.includes(text) : text.test(output);

  const waitFor = (text: string | RegExp, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        child.stdout!.off("data", check);
        child.stderr!.off("data", check);
        child.off("exit", onExit);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (matches(text)) done();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        // Output read before the exit event is complete: one last look.
        matches(text)
          ? done()
          : done(new Error(`${role} exited (code ${code}, signal ${signal}) before "${text}":\n${output}`));
      const timer = setTimeout(
        () => done(new Error(`${role}: no "${text}" within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      if (!running()) onExit(child.exitCode, child.signalCode);
      else {
        child.on("exit", onExit);
        check();
      }
    });

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (running()) child.kill(signal);
    await exited;
  };
  const kill9 = async () => {
    await stop("SIGKILL");
    if (child.signalCode !== "SIGKILL") throw new Error(`${role} ended by ${child.signalCode}, not SIGKILL`);
  };
  return { name: role, child, output: () => output, waitFor, running, exited, stop, kill9 };
}

/** Signals every role first, then waits for them all (so they stop together, not one after another). */
export async function stopRoles(roles: RoleProcess[], signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  for (const role of roles) if (role.running()) role.child.kill(signal);
  await Promise.all(roles.map((role) => role.exited));
}
