// Test support, run as a child process: starts writing `key` below `directory` through LocalDirSink and stops
// half way (after printing "writing"), to be killed there with SIGKILL.

import { LocalDirSink } from "../src/local-dir-sink.ts";

const [directory, key] = process.argv.slice(2);
const sink = await LocalDirSink.open(directory);
setInterval(() => undefined, 60_000); // stay alive until killed
async function* body(): AsyncGenerator<Uint8Array> {
  yield Buffer.alloc(1 << 20, 7);
  process.stdout.write("writing\n");
  await new Promise(() => undefined);
}
await sink.upload(key, body());
