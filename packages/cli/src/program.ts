// Assembles the commander program from the command modules; each module adds its own subcommands.
import { Command } from "commander";
import { registerAnalyzeCommand } from "./commands/analyze.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerExportCommand } from "./commands/export.ts";
import { registerJobCommands } from "./commands/jobs.ts";
import { registerModelCommands } from "./commands/model.ts";
import { registerModelsCommands } from "./commands/models.ts";
import { registerPlanCommand } from "./commands/plan.ts";
import { registerRenderCommand } from "./commands/render.ts";
import { registerRoleCommands } from "./commands/roles.ts";
import { registerRunCommand } from "./commands/run.ts";
import { registerStreamCommands } from "./commands/streams.ts";
import { registerTrackCommands } from "./commands/track.ts";

export const VERSION = "0.1.0";

/** The line after a usage error. */
export const USAGE_HINT = "(add --help for usage; every command is described in docs/cli.md)";

export function buildProgram(): Command {
  const program = new Command("vdet")
    .description("Find and track objects in video with EfficientDet-Dφ.")
    .version(VERSION)
    // A usage error prints the error and one hint line, not the whole help (which pushed the error off screen).
    .showHelpAfterError(USAGE_HINT)
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerModelCommands(program);
  registerModelsCommands(program);
  registerTrackCommands(program);
  registerRunCommand(program);
  registerRoleCommands(program);
  registerJobCommands(program);
  registerStreamCommands(program);
  registerRenderCommand(program);
  registerPlanCommand(program);
  registerDoctorCommand(program);
  registerAnalyzeCommand(program);
  registerExportCommand(program);
  return program;
}
