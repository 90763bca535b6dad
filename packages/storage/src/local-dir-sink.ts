// The local-directory sink: the same key layout as S3, as files below one directory. Writes go to a temporary
// file in the target's directory, are fsynced and then renamed into place (or linked, for create-only writes),
// so a reader, or a restart after a crash, never finds half an object under its final name.

import { randomBytes } from "node:crypto";
import { constants, type Dirent } from "node:fs";
import { link, lstat, mkdir, open, readdir, realpath, rename, rmdir, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { InvalidKeyError, InvalidLocationError, ObjectConflictError, ObjectNotFoundError } from "./errors.ts";
import { TEMP_FILE_PREFIX, validateKey, validatePrefix } from "./keys.ts";
import {
  DEFAULT_PAGE_SIZE,
  type ListOptions,
  type ObjectInfo,
  type PutOptions,
  type PutResult,
  type Sink,
} from "./sink.ts";

const errorCode = (error: unknown): string | undefined => (error as NodeJS.ErrnoException).code;

/** Removes a file we created, when it is still there. */
async function removeIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

const within = (path: string, root: string): boolean =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** The real path `directory` has or would have: its deepest existing ancestor's real path, plus the rest. */
async function realPathOf(directory: string): Promise<string> {
  const rest: string[] = [];
  let existing = resolve(directory);
  for (;;) {
    try {
      return join(await realpath(existing), ...rest.reverse());
    } catch (error) {
      if (errorCode(error) !== "ENOENT" && errorCode(error) !== "ENOTDIR") throw error;
      const parent = dirname(existing);
      if (parent === existing) throw error;
      rest.push(basename(existing));
      existing = parent;
    }
  }
}

/**
 * Why `directory` is not inside one of `roots` once symbolic links are resolved (both sides), or null: the text
 * of a path can lie inside a root while a link in it leads elsewhere. Absolute directory roots only; an empty
 * list is no restriction.
 */
export async function directoryOutsideRoots(
  directory: string,
  roots: readonly string[],
): Promise<string | null> {
  if (roots.length === 0) return null;
  const real = await realPathOf(directory);
  for (const root of roots) {
    if (within(real, await realPathOf(root))) return null;
  }
  return `${directory} resolves to ${real} through a symbolic link, outside the directories this server writes to (${roots.join(", ")})`;
}

export class LocalDirSink implements Sink {
  readonly uri: string;

  private constructor(readonly directory: string) {
    this.uri = directory;
  }

  /**
   * Opens (creating when needed) the sink rooted at `directory`, an absolute path. With `roots`, the directory's
   * real path must lie inside a root's real path: checked before anything is created and again once it exists
   * (a link planted in between is caught); every write then goes below that real path.
   */
  static async open(directory: string, options: { roots?: readonly string[] } = {}): Promise<LocalDirSink> {
    const roots = options.roots ?? [];
    const check = async () => {
      const problem = await directoryOutsideRoots(directory, roots);
      if (problem !== null) throw new InvalidLocationError(directory, problem);
    };
    await check();
    await mkdir(directory, { recursive: true });
    await check();
    return new LocalDirSink(await realpath(directory));
  }

  private isInside(path: string): boolean {
    return path === this.directory || path.startsWith(this.directory + sep);
  }

  /**
   * The file for `key`, refusing keys that resolve outside the root through a symbolic link. With `create`,
   * makes the parent directories, after checking the deepest existing one.
   */
  private async pathOf(key: string, create: boolean): Promise<string> {
    validateKey(key);
    const path = join(this.directory, ...key.split("/"));
    let existing = dirname(path);
    for (;;) {
      try {
        existing = await realpath(existing);
        break;
      } catch (error) {
        if (errorCode(error) !== "ENOENT") throw error;
        existing = dirname(existing);
      }
    }
    if (!this.isInside(existing)) {
      throw new InvalidKeyError(key, `resolves outside ${this.directory} through a symbolic link`);
    }
    if (create) {
      try {
        await mkdir(dirname(path), { recursive: true });
      } catch (error) {
        if (errorCode(error) === "EEXIST" || errorCode(error) === "ENOTDIR") {
          throw new InvalidKeyError(key, "a parent of this key is an object (a file), not a folder");
        }
        throw error;
      }
    }
    return path;
  }

  private tempPathFor(path: string): string {
    return join(dirname(path), `${TEMP_FILE_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  }

  /** Writes chunks to a new temporary file next to `path`, fsynced; returns its path. */
  private async writeTemp(
    path: string,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<string> {
    const temp = this.tempPathFor(path);
    const handle = await open(temp, "wx", 0o644);
    try {
      for await (const chunk of chunks) await handle.write(chunk);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await removeIfPresent(temp);
      throw error;
    }
    await handle.close();
    return temp;
  }

  private async commit(key: string, temp: string, path: string): Promise<void> {
    try {
      await rename(temp, path);
    } catch (error) {
      await removeIfPresent(temp);
      if (errorCode(error) === "EISDIR")
        throw new InvalidKeyError(key, "a folder of other objects has this name");
      throw error;
    }
    await syncDirectory(dirname(path));
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<PutResult> {
    const path = await this.pathOf(key, true);
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    const temp = await this.writeTemp(path, [bytes]);
    if (!options.ifAbsent) {
      await this.commit(key, temp, path);
      return { written: true };
    }
    // link() fails with EEXIST instead of replacing: an atomic create-if-absent.
    try {
      await link(temp, path);
    } catch (error) {
      await removeIfPresent(temp);
      if (errorCode(error) !== "EEXIST") throw error;
      const existing = await this.get(key);
      if (Buffer.from(existing).equals(bytes)) return { written: false };
      throw new ObjectConflictError(path);
    }
    await removeIfPresent(temp);
    await syncDirectory(dirname(path));
    return { written: true };
  }

  async upload(key: string, body: Readable | AsyncIterable<Uint8Array>): Promise<void> {
    const path = await this.pathOf(key, true);
    const temp = await this.writeTemp(path, body as AsyncIterable<Uint8Array>);
    await this.commit(key, temp, path);
  }

  /** Opens the object's file for reading, refusing a symbolic link in its place. */
  private async openFile(key: string) {
    const path = await this.pathOf(key, false);
    try {
      return await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") throw new ObjectNotFoundError(path, { cause: error });
      if (code === "ELOOP")
        throw new InvalidKeyError(key, "is a symbolic link; the sink reads only its own files");
      throw error;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const handle = await this.openFile(key);
    try {
      if (!(await handle.stat()).isFile()) throw new ObjectNotFoundError(join(this.directory, key));
      return await handle.readFile();
    } finally {
      await handle.close();
    }
  }

  read(key: string): Readable {
    const openFile = this.openFile.bind(this);
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const handle = await openFile(key);
      try {
        for await (const chunk of handle.createReadStream({ autoClose: false })) yield chunk as Uint8Array;
      } finally {
        await handle.close();
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async exists(key: string): Promise<boolean> {
    const path = await this.pathOf(key, false);
    try {
      return (await lstat(path)).isFile();
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return false;
      throw error;
    }
  }

  /** Every regular file below `directory` whose key starts with `prefix`; temp files and links skipped. */
  private async keysUnder(
    directory: string,
    keyPrefix: string,
    prefix: string,
    into: string[],
  ): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "ENOTDIR") return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) continue;
      const key = keyPrefix + entry.name;
      if (entry.isDirectory()) {
        const sub = `${key}/`;
        // Descend only where keys could still match the prefix.
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) {
          await this.keysUnder(join(directory, entry.name), sub, prefix, into);
        }
      } else if (entry.isFile() && key.startsWith(prefix)) {
        into.push(key);
      }
    }
  }

  async *list(prefix = "", options: ListOptions = {}): AsyncGenerator<ObjectInfo[], void, undefined> {
    validatePrefix(prefix);
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`pageSize must be a positive whole number, got ${pageSize}`);
    }
    const startAfter = options.startAfter === undefined ? undefined : validateKey(options.startAfter);
    const folder = prefix.slice(0, prefix.lastIndexOf("/") + 1);
    const keys: string[] = [];
    await this.keysUnder(join(this.directory, ...folder.split("/")), folder, prefix, keys);
    keys.sort(byUtf8);
    const from = startAfter === undefined ? 0 : keys.findIndex((key) => byUtf8(key, startAfter) > 0);
    if (from === -1) return;
    for (let start = from; start < keys.length; start += pageSize) {
      const page: ObjectInfo[] = [];
      for (const key of keys.slice(start, start + pageSize)) {
        try {
          const info = await stat(join(this.directory, key));
          page.push({ key, sizeBytes: info.size, lastModified: info.mtime });
        } catch (error) {
          if (errorCode(error) !== "ENOENT") throw error; // deleted since the walk: not listed
        }
      }
      if (page.length > 0) yield page;
    }
  }

  /** Removes the file, then its parent folders that became empty (S3 has no folders to leave behind). */
  async delete(key: string): Promise<void> {
    const path = await this.pathOf(key, false);
    await removeIfPresent(path);
    for (let dir = dirname(path); dir.startsWith(this.directory + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch (error) {
        // Not empty (other objects live there) or already gone: either way, stop climbing.
        if (
          errorCode(error) === "ENOTEMPTY" ||
          errorCode(error) === "ENOENT" ||
          errorCode(error) === "EEXIST"
        )
          break;
        throw error;
      }
    }
  }
}
