// Preloaded (`node --require`) into onnxruntime-node's install script by ort-install-script.test.ts: the first
// HTTPS request the script makes is printed as {"download": url} and the process exits 42, so the test sees
// what the script would fetch without touching the network.
const https = require("node:https");

function intercept(url) {
  const href =
    typeof url === "string" || url instanceof URL
      ? String(url)
      : `https://${url.host ?? url.hostname}${url.path ?? ""}`;
  process.stdout.write(`${JSON.stringify({ download: href })}\n`);
  process.exit(42);
}

https.get = intercept;
https.request = intercept;
