// The address policy on its own: every internal range and every spelling of one is refused, global unicast
// passes, and an allowed range opens exactly that range.

import assert from "node:assert/strict";
import { test } from "node:test";
import { addressProblem, parseAddress } from "./address.ts";
import { InputPolicy } from "./policy.ts";

const refused = [
  "127.0.0.1",
  "127.1",
  "0x7f.1",
  "0177.0.0.1",
  "2130706433",
  "017700000001",
  "0x7f000001",
  "127.0.0.1.",
  "0",
  "0.0.0.0",
  "10.0.0.1",
  "172.16.0.1",
  "192.168.255.255",
  "100.64.0.1",
  "169.254.169.254",
  "224.0.0.1",
  "255.255.255.255",
  "240.0.0.1",
  "::",
  "::1",
  "[::1]",
  "fe80::1",
  "fe80::1%25eth0",
  "fd00:ec2::254",
  "fc00::1",
  "ff02::1",
  "::ffff:127.0.0.1",
  "::ffff:a9fe:a9fe",
  "::127.0.0.1",
  "::a00:1",
  "64:ff9b::a9fe:a9fe",
  "2002:a9fe:a9fe::1",
];

test("internal addresses in every spelling are refused", () => {
  for (const text of refused) {
    const address = parseAddress(text);
    assert.ok(address !== null, `${text} parses as an address`);
    assert.notEqual(addressProblem(address), null, `${text} must be refused`);
  }
});

test("global unicast passes, also inside IPv6 forms; names are not addresses", () => {
  for (const text of [
    "93.184.215.14",
    "1572395790",
    "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
    "::ffff:5db8:d70e",
    "64:ff9b::5db8:d70e",
  ]) {
    assert.equal(addressProblem(parseAddress(text)!), null, text);
  }
  for (const name of ["example.com", "localhost", "1.2.3.4.5", "0x", ""])
    assert.equal(parseAddress(name), null, name);
});

test("an allowed range opens that range only", async () => {
  const policy = new InputPolicy({ allowAddresses: ["127.0.0.1/32", "fd00::/8"] });
  assert.deepEqual(await policy.resolve("127.0.0.1"), { address: "127.0.0.1", family: 4 });
  assert.deepEqual(await policy.resolve("0x7f.1"), { address: "127.0.0.1", family: 4 });
  await assert.rejects(policy.resolve("127.0.0.2"), /loopback/);
  await assert.rejects(policy.resolve("localhost"), /resolves to ::1 is a loopback/);
  assert.equal((await policy.resolve("[fd00::5]")).family, 6);
  await assert.rejects(policy.resolve("fc00::5"), /private/);
  assert.throws(() => new InputPolicy({ allowAddresses: ["nonsense"] }), /not an address or a CIDR range/);
});

test("buckets and schemes", async () => {
  const policy = new InputPolicy({
    inputBuckets: ["videos"],
    lookup: async () => [{ address: "93.184.215.14", family: 4 }],
  });
  await policy.checkInput("s3://videos/a.mp4");
  await assert.rejects(policy.checkInput("s3://other/a.mp4"), /input bucket "other"/);
  await assert.rejects(policy.checkInput("/etc/passwd"), /local file inputs are not accepted/);
  await assert.rejects(policy.checkInput("gopher://x/"), /scheme/);
  await policy.checkInput("https://videos.example.org/a.mp4");
});
