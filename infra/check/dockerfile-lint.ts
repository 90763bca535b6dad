// A small Dockerfile checker for the rules that matter for vdet's images (hadolint is not packaged by Debian or
// npm): base images pinned to a version (no implicit or "latest" tags), a non-root USER in every final stage,
// a HEALTHCHECK, exec-form ENTRYPOINT/CMD, no ADD of local files, and apt installs without recommends.

import { DockerfileParser } from "dockerfile-ast";

export interface LintProblem {
  line: number;
  rule: string;
  message: string;
}

export function lintDockerfile(text: string, finalStages: string[]): LintProblem[] {
  const dockerfile = DockerfileParser.parse(text);
  const problems: LintProblem[] = [];
  const add = (line: number, rule: string, message: string) =>
    problems.push({ line: line + 1, rule, message });
  const args = new Map<string, string>();
  for (const arg of dockerfile.getInitialARGs()) {
    const [name, value] = (arg.getArgumentsContent() ?? "").split("=");
    if (value) args.set(name, value);
  }
  const stageNames = new Set<string>();
  const stages = dockerfile.getFROMs().map((from) => {
    const name = from.getBuildStage() ?? "";
    let image = from.getImageName() ?? "";
    const ref = from.getArgumentsContent()?.split(/\s+/)[0] ?? "";
    const variable = /^\$\{?(\w+)\}?$/.exec(ref);
    if (variable) image = args.get(variable[1]) ?? "";
    else image = ref;
    const line = from.getRange().start.line;
    if (!stageNames.has(image.split(":")[0])) {
      const tag = image.split("@")[0].split(":")[1];
      if (!image) add(line, "pinned-base", `FROM ${ref}: the ARG has no default image`);
      else if (!tag && !image.includes("@sha256:"))
        add(line, "pinned-base", `FROM ${image}: pin a version tag`);
      else if (tag === "latest") add(line, "pinned-base", `FROM ${image}: "latest" is not a pin`);
    }
    stageNames.add(name);
    return { name, from, line };
  });
  const instructions = dockerfile.getInstructions();
  for (const stage of finalStages) {
    const index = stages.findIndex((s) => s.name === stage);
    if (index < 0) {
      add(0, "stage", `no stage named ${stage}`);
      continue;
    }
    // The stage's own instructions plus those of the stages it builds FROM (USER and HEALTHCHECK are inherited).
    const chain: number[] = [];
    for (let i = index; i >= 0; ) {
      chain.push(i);
      const base = stages[i].from.getImageName() ?? "";
      i = stages.findIndex((s) => s.name === base);
    }
    const inStage = (i: number) => {
      const start = stages[i].line;
      const end = stages[i + 1]?.line ?? Number.POSITIVE_INFINITY;
      return instructions.filter(
        (ins) => ins.getRange().start.line > start && ins.getRange().start.line < end,
      );
    };
    const last = (keyword: string) => {
      for (const i of chain) {
        const found = inStage(i).filter((ins) => ins.getKeyword() === keyword);
        if (found.length > 0) return found[found.length - 1];
      }
      return undefined;
    };
    const user = last("USER")?.getArgumentsContent()?.trim();
    if (!user || user === "root" || user === "0" || user.startsWith("0:"))
      add(stages[index].line, "non-root", `stage ${stage} runs as root: add USER`);
    if (!last("HEALTHCHECK")) add(stages[index].line, "healthcheck", `stage ${stage} has no HEALTHCHECK`);
  }
  for (const ins of instructions) {
    const line = ins.getRange().start.line;
    const content = ins.getArgumentsContent() ?? "";
    const keyword = ins.getKeyword();
    if ((keyword === "CMD" || keyword === "ENTRYPOINT") && !content.trim().startsWith("["))
      add(line, "exec-form", `${keyword} in shell form: signals would not reach node`);
    if (keyword === "ADD" && !/https?:\/\//.test(content))
      add(line, "copy-not-add", "use COPY for local files");
    if (keyword === "RUN" && /apt-get install/.test(content) && !/--no-install-recommends/.test(content))
      add(line, "apt-recommends", "apt-get install without --no-install-recommends");
    if (keyword === "RUN" && /\bsudo\b/.test(content)) add(line, "no-sudo", "sudo in RUN");
  }
  return problems;
}

/**
 * ffmpeg in the images: every final stage installs the distribution's ffmpeg (apt) and points VDET_FFMPEG and
 * VDET_FFPROBE at it, and every stage that installs npm dependencies deletes the npm installers' static builds,
 * so no image can fall back to them.
 */
export function lintFfmpeg(text: string, finalStages: string[]): LintProblem[] {
  const dockerfile = DockerfileParser.parse(text);
  const froms = dockerfile.getFROMs();
  const instructions = dockerfile.getInstructions();
  const stages = froms.map((from, i) => {
    const start = from.getRange().start.line;
    const end = froms[i + 1]?.getRange().start.line ?? Number.POSITIVE_INFINITY;
    return {
      name: from.getBuildStage() ?? "",
      base: from.getArgumentsContent()?.split(/\s+/)[0] ?? "",
      line: start,
      instructions: instructions.filter(
        (ins) => ins.getRange().start.line > start && ins.getRange().start.line < end,
      ),
    };
  });
  const problems: LintProblem[] = [];
  const add = (line: number, rule: string, message: string) =>
    problems.push({ line: line + 1, rule, message });
  const runs = (stage: (typeof stages)[number]) =>
    stage.instructions
      .filter((ins) => ins.getKeyword() === "RUN")
      .map((ins) => ins.getArgumentsContent() ?? "");
  for (const name of finalStages) {
    const index = stages.findIndex((s) => s.name === name);
    if (index < 0) continue; // lintDockerfile reports unknown stages
    const chain: typeof stages = [];
    let stage: (typeof stages)[number] | undefined = stages[index];
    while (stage !== undefined) {
      chain.push(stage);
      const base: string = stage.base;
      stage = stages.find((s) => s.name === base);
    }
    if (!chain.some((stage) => runs(stage).some((run) => /apt-get install[^&|;]*\sffmpeg(\s|$)/.test(run)))) {
      add(
        stages[index].line,
        "distro-ffmpeg",
        `stage ${name} does not apt-get install the distribution's ffmpeg`,
      );
    }
    const env = chain.flatMap((stage) =>
      stage.instructions
        .filter((ins) => ins.getKeyword() === "ENV")
        .map((ins) => ins.getArgumentsContent() ?? ""),
    );
    for (const [variable, path] of [
      ["VDET_FFMPEG", "/usr/bin/ffmpeg"],
      ["VDET_FFPROBE", "/usr/bin/ffprobe"],
    ]) {
      if (!env.some((e) => new RegExp(`(^|\\s)${variable}=${path}(\\s|$)`).test(e))) {
        add(stages[index].line, "ffmpeg-env", `stage ${name} does not set ${variable}=${path}`);
      }
    }
  }
  for (const stage of stages) {
    for (const run of runs(stage)) {
      if (!/\bnpm (ci|install)\b/.test(run)) continue;
      for (const installer of ["@ffmpeg-installer", "@ffprobe-installer"]) {
        if (!new RegExp(`rm -rf [^&|;]*${installer}/\\*-\\*`).test(run)) {
          add(
            stage.line,
            "npm-ffmpeg",
            `stage ${stage.name} installs ${installer}'s static build and keeps it`,
          );
        }
      }
    }
  }
  return problems;
}
