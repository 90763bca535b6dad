// Test support, run as a child process by s3rver.ts: s3rver on a free port of 127.0.0.1 over the
// directory given as argument. It prints {"port":N} when ready and stops when its stdin closes. A separate
// process because s3rver signs ListObjectsV2 continuation tokens with DES, which Node's OpenSSL 3 allows
// only with --openssl-legacy-provider.

import S3rver from "s3rver";

const [directory] = process.argv.slice(2);
const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  server.httpServer?.closeAllConnections();
  await server.close();
  process.exit(0);
});
