// The model cache on disk: one folder per model (model.onnx + manifest.json), installed by one atomic rename,
// plus `.downloads/` for resumable partial downloads and `.staging-*` folders while a model is being written.

import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { ModelCacheError, ModelInputError } from "./errors.ts";
import { MANIFEST_FILE, MODEL_FILE, type ModelManifest, modelManifestSchema } from "./manifest.ts";

/** `$VDET_HOME/models`, else `$XDG_CACHE_HOME/vdet/models`, else `~/.cache/vdet/models`. */
export function modelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VDET_HOME) return join(env.VDET_HOME, "models");
  // The XDG spec says relative paths in XDG_* are invalid and must be ignored.
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "vdet", "models");
  return join(homedir(), ".cache", "vdet", "models");
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

/** Checks a model name: letters, digits, `.`, `_`, `-`, at most 64 characters, no leading dot or dash. */
export function checkModelName(name: string): string {
  if (!NAME.test(name)) {
    throw new ModelInputError(
      `invalid model name "${name}": use letters, digits, ".", "_" and "-" (at most 64, starting with a letter or digit)`,
    );
  }
  return name;
}

export interface CachedModel {
  name: string;
  dir: string;
  /** Path of the deploy ONNX model. */
  modelPath: string;
  manifest: ModelManifest;
  /** Bytes of every file in the model's folder. */
  bytesOnDisk: number;
}

export class ModelCache {
  constructor(readonly dir: string = modelCacheDir()) {}

  modelDir(name: string): string {
    return join(this.dir, checkModelName(name));
  }

  get downloadsDir(): string {
    return join(this.dir, ".downloads");
  }

  /** The cached model of this name, or undefined when there is none (or it is damaged: see `check`). */
  get(name: string): CachedModel | undefined {
    const found = this.check(name);
    return found.ok ? found.model : undefined;
  }

  /** Reads and checks a cache entry: manifest valid and model file present with the recorded size. */
  check(name: string): { ok: true; model: CachedModel } | { ok: false; reason: string | null } {
    const dir = this.modelDir(name);
    const manifestPath = join(dir, MANIFEST_FILE);
    if (!existsSync(dir)) return { ok: false, reason: null };
    let manifest: ModelManifest;
    try {
      manifest = modelManifestSchema.parse(JSON.parse(readFileSync(manifestPath, "utf8")));
    } catch (error) {
      return {
        ok: false,
        reason: `its ${MANIFEST_FILE} is missing or invalid (${(error as Error).message})`,
      };
    }
    const modelPath = join(dir, MODEL_FILE);
    const size = existsSync(modelPath) ? statSync(modelPath).size : -1;
    if (size !== manifest.model.bytes) {
      return {
        ok: false,
        reason: `${MODEL_FILE} is ${size < 0 ? "missing" : `${size} bytes`}, the manifest says ${manifest.model.bytes}`,
      };
    }
    const bytesOnDisk = readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
    return { ok: true, model: { name, dir, modelPath, manifest, bytesOnDisk } };
  }

  /** Every valid cached model, sorted by name; damaged entries are listed separately. */
  list(): { models: CachedModel[]; damaged: { name: string; reason: string }[] } {
    const models: CachedModel[] = [];
    const damaged: { name: string; reason: string }[] = [];
    if (!existsSync(this.dir)) return { models, damaged };
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || !NAME.test(entry.name)) continue;
      const found = this.check(entry.name);
      if (found.ok) models.push(found.model);
      else damaged.push({ name: entry.name, reason: found.reason ?? "unreadable" });
    }
    models.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    return { models, damaged };
  }

  /**
   * Writes a model into a staging folder, then renames it into place in one step, so a reader sees either the
   * old entry or the complete new one, never half a model. `replace` swaps out an existing entry.
   */
  async install(
    name: string,
    files: { model: Uint8Array; manifest: ModelManifest; extra?: Record<string, string> },
    replace: boolean,
  ): Promise<CachedModel> {
    const finalDir = this.modelDir(name);
    await mkdir(this.dir, { recursive: true });
    const staging = join(this.dir, `.staging-${name}-${randomBytes(4).toString("hex")}`);
    await mkdir(staging);
    try {
      await writeFile(join(staging, MODEL_FILE), files.model);
      for (const [file, from] of Object.entries(files.extra ?? {})) await rename(from, join(staging, file));
      await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(files.manifest, null, 2)}\n`);
      if (replace && existsSync(finalDir)) {
        const trash = join(this.dir, `.trash-${name}-${randomBytes(4).toString("hex")}`);
        await rename(finalDir, trash);
        await rm(trash, { recursive: true, force: true });
      }
      await rename(staging, finalDir);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      if (
        (error as NodeJS.ErrnoException).code === "ENOTEMPTY" ||
        (error as NodeJS.ErrnoException).code === "EEXIST"
      ) {
        throw new ModelInputError(
          `a model named "${name}" is already cached (${finalDir}); choose another --name or pass --force`,
        );
      }
      throw error;
    }
    const installed = this.get(name);
    if (!installed)
      throw new ModelCacheError(`model ${name} was installed but does not read back from ${finalDir}`);
    return installed;
  }

  /** Removes staging and trash folders of `name` left by a process that was killed while installing it. */
  async removeLeftovers(name: string): Promise<void> {
    if (!existsSync(this.dir)) return;
    for (const entry of readdirSync(this.dir)) {
      if (entry.startsWith(`.staging-${name}-`) || entry.startsWith(`.trash-${name}-`)) {
        await rm(join(this.dir, entry), { recursive: true, force: true });
      }
    }
  }

  /** Removes a cached model; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const dir = this.modelDir(name);
    if (!existsSync(dir)) return false;
    const trash = join(this.dir, `.trash-${name}-${randomBytes(4).toString("hex")}`);
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true });
    return true;
  }
}
