// An Outbox that uploads over HTTP with fetch: each batch is one POST of JSON; a 2xx answer ACKs
// the batch, anything else (or a network error) reverts it, and the next drain sends it again.
// The example starts its own stub endpoint on 127.0.0.1 (it answers 503 to every third request),
// writes 200 events on an esp32 device with a disk tier in a temporary directory, drains until
// everything is delivered, and checks the endpoint got each record once, in order.
//
//   npm run build && node examples/fetch-sender.mjs

import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Device, loadBoard, Outbox } from "imx-memsim";

// ---- The stub endpoint: POST /ingest with {source, sensor, records}; every third request fails.
/** @type {number[]} */
const received = [];
let requests = 0;
const server = createServer((request, response) => {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (/** @type {string} */ chunk) => (body += chunk));
  request.on("end", () => {
    requests++;
    if (request.method !== "POST" || request.url !== "/ingest" || requests % 3 === 0) {
      response.writeHead(503).end();
      return;
    }
    /** @type {unknown} */
    const parsed = JSON.parse(body);
    const batch = /** @type {import("imx-memsim").OutboxBatch} */ (parsed);
    for (const record of batch.records) received.push(record.value);
    response.writeHead(204).end();
  });
});
server.listen(0, "127.0.0.1");
await once(server, "listening");
const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
const url = `http://127.0.0.1:${port}/ingest`;

// ---- The sender: any async function of (batch, { signal }).
/**
 * @param {import("imx-memsim").OutboxBatch} batch
 * @param {import("imx-memsim").OutboxSendContext} context
 */
async function sendOverHttp(batch, { signal }) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(batch),
    signal,
  });
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status}`);
}

// ---- The device: 200 events, the main-loop tick running while the outbox drains.
const storageDir = mkdtempSync(join(tmpdir(), "imx-fetch-example-"));
const device = Device.create({ board: loadBoard("esp32"), storageDir });
device.configureStream(0, 42, { type: "evt" });
for (let i = 0; i < 200; i++) device.writeEvt(0, 42, i, Date.now());
const tick = setInterval(() => device.processMemory(Date.now()), 100);

const outbox = new Outbox(device, { packetRecords: 25 });
let drains = 0;
for (; drains < 50; drains++) {
  try {
    await outbox.drain(sendOverHttp);
    break;
  } catch (error) {
    console.log(`drain ${drains + 1}: ${String(error)}; retrying`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
clearInterval(tick);
server.close();
rmSync(storageDir, { recursive: true, force: true });

const inOrder = received.length === 200 && received.every((value, i) => value === i);
console.log(JSON.stringify({ example: "fetch", requests, drains: drains + 1, records: received.length, inOrder }));
process.exitCode = inOrder ? 0 : 1;
