// A real Redis Cluster on loopback for tests and benchmarks: three masters (redis-server --cluster-enabled yes),
// each in its own temporary directory with no persistence, joined by `redis-cli --cluster create`, waited for
// until every node reports cluster_state:ok and agrees on the slots. `stop` kills them and removes the directories.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";

export interface RedisClusterNode {
  host: string;
  port: number;
  /** A plain connection to this node (not cluster-aware): INFO, DBSIZE, CLUSTER INFO. */
  redis: Redis;
}

export interface LocalRedisCluster {
  /** redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3 (VDET_REDIS_URL). */
  url: string;
  nodes: RedisClusterNode[];
  stop(): Promise<void>;
}

/** A TCP port nothing listens on now, on 127.0.0.1 (the kernel's choice). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(" ")}: ${error.message}\n${stdout}${stderr}`))
        : resolve(stdout),
    );
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `Redis Cluster: timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${last})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a three-master Redis Cluster on loopback (needs redis-server and redis-cli ≥ 7 on PATH). */
export async function startRedisCluster(
  options: { masters?: number; timeoutMs?: number } = {},
): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), "vdet-redis-cluster-"));
  const children: ChildProcess[] = [];
  const nodes: RedisClusterNode[] = [];
  const stop = async () => {
    for (const node of nodes) node.redis.disconnect();
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGKILL");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const nodeDir = join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      // The bus port is given explicitly (cluster-port) so that both ports are ones found free.
      const [port, busPort] = [await freePort(), await freePort()];
      const child = spawn(
        "redis-server",
        [
          "--port",
          String(port),
          "--cluster-port",
          String(busPort),
          "--bind",
          "127.0.0.1",
          "--cluster-enabled",
          "yes",
          "--cluster-config-file",
          join(nodeDir, "nodes.conf"),
          "--cluster-node-timeout",
          "5000",
          "--dir",
          nodeDir,
          "--save",
          "",
          "--appendonly",
          "no",
          "--protected-mode",
          "no",
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      child.stderr?.on("data", (d) => (stderr += d));
      child.once("exit", (code) => {
        if (code !== null && code !== 0)
          process.stderr.write(`redis-server :${port} exited ${code}: ${stderr}\n`);
      });
      children.push(child);
      const redis = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: null });
      redis.on("error", () => {}); // refused until the server listens: waited for below
      nodes.push({ host: "127.0.0.1", port, redis });
    }
    for (const node of nodes) {
      await until(
        `redis-server on port ${node.port}`,
        async () => {
          if (node.redis.status !== "ready") await node.redis.connect().catch(() => {});
          return (await node.redis.ping()) === "PONG" ? true : undefined;
        },
        timeoutMs,
      );
    }
    await run("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((n) => `${n.host}:${n.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    // Every node must say ok and know every master (the gossip that spreads the slot map takes a moment).
    for (const node of nodes) {
      await until(
        `cluster_state:ok on port ${node.port}`,
        async () => {
          const info = await node.redis.cluster("INFO");
          const ok =
            /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info);
          return ok && /cluster_slots_ok:16384/.test(info) ? true : undefined;
        },
        timeoutMs,
      );
    }
    return { url: `redis+cluster://${nodes.map((n) => `${n.host}:${n.port}`).join(",")}`, nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Keys per node whose name starts with `match` (SCAN on each node: how a deployment's keys lie over the shards). */
export async function keysPerNode(cluster: LocalRedisCluster, pattern: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      let count = 0;
      let cursor = "0";
      do {
        const [next, found] = await node.redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
        count += found.length;
        cursor = next;
      } while (cursor !== "0");
      return count;
    }),
  );
}
