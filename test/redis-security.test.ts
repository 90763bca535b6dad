// Redis with a password and with TLS, on redis-servers this test starts on free ports (with a self-signed
// certificate made by openssl here): the right settings work end to end through the transport, wrong ones fail
// at once with an error that names the problem. And the roles never log a secret: the API and producer
// processes are started with secrets in their environment and their whole output is searched for them.

import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { startRole } from "@vdet/cli/testing";
import { checkRedis, createRedisTransport, RedisConnectionError } from "@vdet/transport";
import { OutcomeLog } from "./support/outcomes.ts";
import { waitFor } from "./support/wait.ts";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "vdet-redis-sec-"));
const password = `pw-${randomBytes(12).toString("hex")}`;
const servers: ChildProcess[] = [];
const outcomes = new OutcomeLog("security");
let port = 0;
let tlsPort = 0;
let ca = "";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(args: string[]): Promise<void> {
  const child = spawn("redis-server", ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", ...args], {
    cwd: dir,
    stdio: ["ignore", "pipe", "inherit"],
  });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (data: Buffer) => {
      seen += data.toString();
      if (seen.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${seen.slice(-500)}`)));
    child.once("error", (error) =>
      reject(
        new Error(`cannot run redis-server (${error.message}); install it: apt-get install redis-server`),
      ),
    );
  });
}

before(async () => {
  await run("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"],
    ...[
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
  ]);
  ca = readFileSync(join(dir, "cert.pem"), "utf8");
  [port, tlsPort] = [await freePort(), await freePort()];
  await Promise.all([
    startRedis(["--port", String(port), "--requirepass", password]),
    startRedis([
      ...["--port", "0", "--tls-port", String(tlsPort), "--requirepass", password],
      ...["--tls-cert-file", "cert.pem", "--tls-key-file", "key.pem", "--tls-ca-cert-file", "cert.pem"],
      ...["--tls-auth-clients", "no"],
    ]),
  ]);
});

after(async () => {
  for (const server of servers) {
    server.kill("SIGTERM");
    if (server.exitCode === null) await new Promise((resolve) => server.once("exit", resolve));
  }
  rmSync(dir, { recursive: true, force: true });
  outcomes.flush();
});

/** A message through a real BullMQ queue and back, over the given URL. */
async function roundTrip(url: string, tlsCa?: string): Promise<string> {
  const transport = createRedisTransport({ url, prefix: `sec-${randomBytes(4).toString("hex")}`, tlsCa });
  try {
    const received = new Promise<string>((resolve) => {
      transport.jobs.consume(async (message) => resolve(message.jobId));
    });
    await transport.jobs.add({ jobId: "j_secure" });
    return await received;
  } finally {
    await transport.close();
  }
}

async function expectRefused(name: string, url: string, options: object, message: RegExp): Promise<void> {
  await assert.rejects(checkRedis(url, { timeoutMs: 3000, ...options }), (error: unknown) => {
    assert.ok(error instanceof RedisConnectionError, String(error));
    outcomes.add("redis", name, `RedisConnectionError: ${error.message}`);
    assert.match(error.message, message);
    assert.ok(!error.message.includes(password), "the password is not in the message");
    return true;
  });
}

describe("Redis password", () => {
  test("the right password works end to end", async () => {
    const url = `redis://:${password}@127.0.0.1:${port}`;
    await checkRedis(url);
    assert.equal(await roundTrip(url), "j_secure");
  });

  test("a wrong or missing password fails at once, saying which", async () => {
    await expectRefused(
      "wrong password",
      `redis://:wrong-${password}@127.0.0.1:${port}`,
      {},
      /refused the username or password .*WRONGPASS.*fix the password in VDET_REDIS_URL/,
    );
    await expectRefused(
      "no password",
      `redis://127.0.0.1:${port}`,
      {},
      /requires a password .*NOAUTH.*put it in VDET_REDIS_URL/,
    );
    await expectRefused(
      "nothing listening",
      `redis://127.0.0.1:${await freePort()}`,
      {},
      /nothing accepts connections/,
    );
  });
});

describe("Redis over TLS", () => {
  test("rediss:// with the server's CA and the password works end to end", async () => {
    const url = `rediss://:${password}@127.0.0.1:${tlsPort}`;
    await checkRedis(url, { tlsCa: ca });
    assert.equal(await roundTrip(url, ca), "j_secure");
  });

  test("an untrusted certificate, or plain redis:// to a TLS port, fails clearly", async () => {
    await expectRefused(
      "TLS without the private CA",
      `rediss://:${password}@127.0.0.1:${tlsPort}`,
      {},
      /TLS with Redis at .* failed \(self.signed certificate[^)]*\); for a private CA set VDET_REDIS_TLS_CA_FILE/,
    );
    await expectRefused(
      "plain connection to a TLS port",
      `redis://:${password}@127.0.0.1:${tlsPort}`,
      {},
      /if the server takes TLS connections, use rediss:\/\//,
    );
  });
});

describe("secrets never reach the logs", { concurrency: true }, () => {
  const token = `tok-${randomBytes(16).toString("hex")}`;
  const awsSecret = `aws-${randomBytes(16).toString("hex")}`;
  const secrets = [token, password, awsSecret];

  /** A role with the secrets in its environment and its log captured, so a test can look for them. */
  const startLoggingRole = (role: string, env: Record<string, string>) =>
    startRole(role, {
      env: {
        VDET_PREFIX: `sec-${randomBytes(4).toString("hex")}`,
        VDET_LOG_LEVEL: "info",
        AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY: awsSecret,
        ...env,
      },
    });

  const until = (check: () => boolean, what: string) => waitFor(what, check, 20_000, 50);

  /** Starts a role that must refuse to start: waits for it to exit, records its last line, checks the exit code. */
  async function startRefused(role: string, env: Record<string, string>, outcome: [string, string]) {
    const { child, output } = startLoggingRole(role, env);
    await until(() => child.exitCode !== null, `the ${role} to exit`);
    outcomes.add(outcome[0], outcome[1], output().trim().split("\n").at(-1) ?? "");
    assert.notEqual(child.exitCode, 0);
    return output();
  }

  test("the API logs its configuration with the token and the Redis password masked", async () => {
    const { child, output } = startLoggingRole("api", {
      VDET_API_TOKEN: token,
      VDET_REDIS_URL: `redis://:${password}@127.0.0.1:${port}`,
      VDET_API_HOST: "127.0.0.1",
      VDET_API_PORT: "0",
    });
    await until(() => output().includes("api listening") || child.exitCode !== null, "the API to listen");
    child.kill("SIGTERM");
    await until(() => child.exitCode !== null, "the API to stop");
    const lines = output()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const config = lines.find((l) => l.msg === "configuration").config;
    outcomes.add("secrets", "API start-up log", `token ${config.token}, redisUrl ${config.redisUrl}`);
    assert.equal(config.token, "***");
    assert.equal(config.redisUrl, `redis://***@127.0.0.1:${port}`);
    for (const secret of secrets) assert.ok(!output().includes(secret), "a secret was logged");
  });

  test("a producer with a wrong Redis password exits with a clear error and logs no password", async () => {
    const wrong = `wrong-${password}`;
    const output = await startRefused("producer", { VDET_REDIS_URL: `redis://:${wrong}@127.0.0.1:${port}` }, [
      "redis",
      "producer start with a wrong password",
    ]);
    assert.match(
      output,
      /vdet: Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ refused the username or password/,
    );
    for (const secret of [...secrets, wrong]) assert.ok(!output.includes(secret), "a secret was logged");
  });

  test("--no-auth is refused on a non-loopback address", async () => {
    const env = {
      VDET_API_NO_AUTH: "1",
      VDET_API_HOST: "0.0.0.0",
      VDET_REDIS_URL: `redis://:${password}@127.0.0.1:${port}`,
    };
    const output = await startRefused("api", env, ["auth", "--no-auth on 0.0.0.0"]);
    assert.match(
      output,
      /--no-auth \(VDET_API_NO_AUTH\) is for local setups: it needs VDET_API_HOST=127\.0\.0\.1/,
    );
  });
});
