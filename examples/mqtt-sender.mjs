// An Outbox that uploads through an MQTT-like client the application already has: anything with a
// `publish(topic, payload, options, callback)` method in the style of mqtt.js, where the callback
// gets an error when the broker does not acknowledge a QoS 1 publish. The sender turns that into a
// promise: acknowledged → the batch is ACKed on the device; an error → it is reverted.
//
// The example brings its own stub broker (a line protocol over TCP on 127.0.0.1: the client sends
// `PUBLISH <id> <topic> <json>`, the broker answers `PUBACK <id>`, or `NACK <id>` to every fourth
// publish) and a small client for it, writes TSD samples on two streams, drains until everything
// is delivered, and checks the broker got each record once, in order.
//
//   npm run build && node examples/mqtt-sender.mjs

import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Device, loadBoard, Outbox } from "imx-memsim";

// ---- The stub broker.
/** @type {Map<string, number[]>} */
const byTopic = new Map();
let publishes = 0;
const broker = createServer((socket) => {
  createInterface({ input: socket }).on("line", (line) => {
    const [verb, id, topic, ...json] = line.split(" ");
    if (verb !== "PUBLISH") return;
    publishes++;
    if (publishes % 4 === 0) {
      socket.write(`NACK ${id}\n`);
      return;
    }
    const values = byTopic.get(topic ?? "") ?? [];
    /** @type {unknown} */
    const parsed = JSON.parse(json.join(" "));
    const records = /** @type {Array<{ value: number }>} */ (parsed);
    for (const record of records) values.push(record.value);
    byTopic.set(topic ?? "", values);
    socket.write(`PUBACK ${id}\n`);
  });
});
broker.listen(0, "127.0.0.1");
await once(broker, "listening");

// ---- An MQTT-like client (in an application: mqtt.js or the like, already connected).
/** @typedef {(error: Error | null) => void} PublishCallback */
class LineClient {
  #socket;
  /** @type {Map<string, PublishCallback>} */
  #waiting = new Map();
  #nextId = 1;
  /** @param {import("node:net").Socket} socket */
  constructor(socket) {
    this.#socket = socket;
    createInterface({ input: socket }).on("line", (line) => {
      const [verb, id] = line.split(" ");
      const callback = this.#waiting.get(id ?? "");
      this.#waiting.delete(id ?? "");
      callback?.(verb === "PUBACK" ? null : new Error(`broker refused publish ${id}`));
    });
  }
  /**
   * @param {string} topic
   * @param {string} payload
   * @param {{ qos: 0 | 1 }} _options
   * @param {PublishCallback} callback
   */
  publish(topic, payload, _options, callback) {
    const id = String(this.#nextId++);
    this.#waiting.set(id, callback);
    this.#socket.write(`PUBLISH ${id} ${topic} ${payload}\n`);
  }
  end() {
    this.#socket.end();
  }
}
const socket = connect(/** @type {import("node:net").AddressInfo} */ (broker.address()).port, "127.0.0.1");
await once(socket, "connect");
const client = new LineClient(socket);

// ---- The sender: one QoS 1 publish per batch, on a topic per stream.
/**
 * @param {import("imx-memsim").OutboxBatch} batch
 * @returns {Promise<void>}
 */
function publishBatch(batch) {
  const topic = `imx/${batch.source}/${batch.sensor}`;
  const payload = JSON.stringify(batch.records.map(({ seq, utcMs, value }) => ({ seq, utcMs, value })));
  return new Promise((resolve, reject) => {
    client.publish(topic, payload, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
  });
}

// ---- The device: two TSD streams, 150 samples each.
const storageDir = mkdtempSync(join(tmpdir(), "imx-mqtt-example-"));
const device = Device.create({ board: loadBoard("esp32"), storageDir });
const streams = [
  { source: 0, sensor: 1001 },
  { source: 0, sensor: 1002 },
];
const startMs = Date.now();
for (const { source, sensor } of streams) {
  device.configureStream(source, sensor, { type: "tsd", dataType: "float32", sampleRateMs: 1000 });
  for (let i = 0; i < 150; i++) device.writeTsd(source, sensor, i, startMs + i * 1000);
}
const tick = setInterval(() => device.processMemory(Date.now()), 100);

const outbox = new Outbox(device, { streams, packetRecords: 20, maxInFlight: 2 });
let drains = 0;
for (; drains < 50; drains++) {
  try {
    await outbox.drain(publishBatch);
    break;
  } catch (error) {
    console.log(`drain ${drains + 1}: ${String(error)}; retrying`);
  }
}
clearInterval(tick);
client.end();
broker.close();
rmSync(storageDir, { recursive: true, force: true });

const inOrder = streams.every(({ source, sensor }) => {
  const values = byTopic.get(`imx/${source}/${sensor}`) ?? [];
  return values.length === 150 && values.every((value, i) => value === i);
});
console.log(JSON.stringify({ example: "mqtt", publishes, drains: drains + 1, topics: byTopic.size, inOrder }));
process.exitCode = inOrder ? 0 : 1;
