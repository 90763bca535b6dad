// Logs: JSON lines with the role once when not on a terminal; lines for people on a terminal.

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLogLine } from "./logging.ts";

test("a pino line for people: time, level, role, message, fields", () => {
  const line = JSON.stringify({
    level: 40,
    time: Date.UTC(2026, 11, 7, 1, 2, 3, 456),
    pid: 42,
    role: "worker",
    phi: "0",
    reason: "offline",
    msg: "weights for D0: untrained (seeded)",
  });
  assert.equal(
    formatLogLine(line),
    "01:02:03.456 warn  worker weights for D0: untrained (seeded)  phi=0 reason=offline\n",
  );
  assert.equal(formatLogLine("not json"), "not json\n");
});

test("roles log their role once per line", async () => {
  const { readFileSync } = await import("node:fs");
  for (const file of ["aggregator-role.ts", "api-role.ts", "producer-role.ts", "worker-role.ts"]) {
    const text = readFileSync(new URL(`./${file}`, import.meta.url), "utf8");
    assert.doesNotMatch(
      text,
      /role: "(api|producer|worker|aggregator)"/,
      `${file} adds no second role field`,
    );
  }
});
