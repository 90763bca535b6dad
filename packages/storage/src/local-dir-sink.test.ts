import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { assertCreateOnly, sinkConformance } from "../testing/sink-conformance.ts";
import { InvalidKeyError, ObjectConflictError } from "./errors.ts";
import { TEMP_FILE_PREFIX } from "./keys.ts";
import { LocalDirSink } from "./local-dir-sink.ts";

const scratch = await mkdtemp(join(tmpdir(), "vdet-local-sink-"));
after(() => rm(scratch, { recursive: true, force: true }));
let counter = 0;
const newDirectory = async () => {
  const directory = join(scratch, `t${++counter}`);
  await mkdir(directory);
  return directory;
};

describe("LocalDirSink: the Sink contract", () => {
  sinkConformance(async () => LocalDirSink.open(join(await newDirectory(), "out")));
});

describe("LocalDirSink", () => {
  test("files land under the directory with the key's path", async () => {
    const directory = await newDirectory();
    const sink = await LocalDirSink.open(join(directory, "job"));
    await sink.put("tracks/part-000001.jsonl", "{}\n");
    assert.equal(await readFile(join(directory, "job", "tracks", "part-000001.jsonl"), "utf8"), "{}\n");
    assert.equal(sink.uri, join(directory, "job"));
  });

  test("create-only writes: the same bytes again are a no-op, different bytes a conflict", async () => {
    await assertCreateOnly(await LocalDirSink.open(await newDirectory()));
  });

  test("concurrent create-only writers: exactly one wins", async () => {
    const sink = await LocalDirSink.open(await newDirectory());
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => sink.put("part.jsonl", `writer ${i}\n`, { ifAbsent: true })),
    );
    const winners = results.filter((r) => r.status === "fulfilled");
    assert.equal(winners.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ObjectConflictError);
    }
    assert.match(Buffer.from(await sink.get("part.jsonl")).toString(), /^writer \d\n$/);
  });

  test("a writer killed mid-write leaves the old object whole and its temp file unlisted", async () => {
    const directory = await newDirectory();
    const sink = await LocalDirSink.open(directory);
    await sink.put("tracks.jsonl", "old\n");
    await sink.put("new/only.jsonl", "x");

    for (const key of ["tracks.jsonl", "new/fresh.jsonl"]) {
      const child = spawn(
        process.execPath,
        [
          "--import",
          "tsx",
          fileURLToPath(new URL("../testing/crash-writer.ts", import.meta.url)),
          directory,
          key,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (data: Buffer) => {
          if (data.toString().includes("writing")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`crash writer exited early with ${code}`)));
      });
      const folder = join(directory, ...key.split("/").slice(0, -1));
      const temps = (await readdir(folder)).filter((name) => name.startsWith(TEMP_FILE_PREFIX));
      assert.equal(temps.length, 1, "the write is in progress in a temporary file");
      assert.equal((await stat(join(folder, temps[0]))).size, 1 << 20);
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGKILL");
      assert.equal(await exited, null);
    }

    assert.equal(Buffer.from(await sink.get("tracks.jsonl")).toString(), "old\n");
    assert.equal(await sink.exists("new/fresh.jsonl"), false);
    const listed: string[] = [];
    for await (const page of sink.list()) listed.push(...page.map((o) => o.key));
    assert.deepEqual(listed, ["new/only.jsonl", "tracks.jsonl"]);
    // The debris stays (named as temporary) and does not block later writes.
    await sink.put("new/fresh.jsonl", "done\n");
    assert.equal(Buffer.from(await sink.get("new/fresh.jsonl")).toString(), "done\n");
  });

  test("symbolic links cannot lead writes or reads outside the directory", async () => {
    const directory = await newDirectory();
    const outside = await newDirectory();
    await writeFile(join(outside, "secret.txt"), "secret");
    const root = join(directory, "root");
    const sink = await LocalDirSink.open(root);
    await symlink(outside, join(root, "escape"));
    await symlink(join(outside, "secret.txt"), join(root, "secret.txt"));

    await assert.rejects(sink.put("escape/new/file.json", "x"), /through a symbolic link/);
    await assert.rejects(sink.get("escape/secret.txt"), /through a symbolic link/);
    assert.deepEqual(await readdir(outside), ["secret.txt"], "nothing was created outside");
    await assert.rejects(sink.get("secret.txt"), /symbolic link/);
    await assert.rejects(sink.exists("escape/secret.txt"), InvalidKeyError);
    const listed: string[] = [];
    for await (const page of sink.list()) listed.push(...page.map((o) => o.key));
    assert.deepEqual(listed, [], "links are not listed");
  });

  test("a key under an existing object is refused with a clear error", async () => {
    const sink = await LocalDirSink.open(await newDirectory());
    await sink.put("a", "x");
    await assert.rejects(sink.put("a/b", "y"), /is an object \(a file\), not a folder/);
    await sink.put("c/d", "x");
    await assert.rejects(sink.put("c", "y"), /a folder of other objects has this name/);
    const listed: string[] = [];
    for await (const page of sink.list()) listed.push(...page.map((o) => o.key));
    assert.deepEqual(listed, ["a", "c/d"], "no temporary files left behind");
  });
});
