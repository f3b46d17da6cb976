// `imx-memsim run --packets FILE` and `--packet-format imatrix`, as a user runs them (the compiled
// CLI in a child process):
// - 12 simulated hours with a 3-hour outage every 6 hours: every line of the packets file is one
//   iMatrix message within 1152 bytes (1024 of payload), and the messages, decoded, give exactly
//   the upload log's records per stream, in order (event times in whole seconds); controls travel
//   in EVENT_CONTROL blocks, TSD sensors in SENSOR_MS blocks; the summary's figures match the file;
// - a resumed run appends to the packets file and the whole file still matches the whole log;
// - with lost and late answers only the acknowledged messages are in the file, still the log's;
// - a workload's `role` makes a TSD stream a control (CONTROL_MS blocks);
// - a bad --packets path or flag combination is one `imx-memsim: …` line, exit 2, nothing changed.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hexLineBytes, wireDecode, type WirePacket, wirePacketRecords } from "../../host/format/imatrix-decode.js";
import {
  BLOCK_TYPE_EVENT_CONTROL,
  BLOCK_TYPE_EVENT_SENSOR,
  WIRE_MESSAGE_BYTES_MAX,
  WIRE_PAYLOAD_BYTES_MAX,
} from "../../host/format/imatrix-wire.js";
import type { DeviceSummary } from "../../host/run/device-report.js";
import { cli, snapshot, uploadLogRecords } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-run-packets-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const path = (name: string): string => join(root, name);
const json = (file: string): unknown => JSON.parse(readFileSync(file, "utf8"));

function packetsRead(file: string): WirePacket[] {
  const lines = readFileSync(file, "utf8").split("\n");
  expect(lines.pop()).toBe("");
  return lines.map((line, i) => {
    expect(line, `line ${i + 1}`).toMatch(/^UPLOAD Message DATA as hex: {3}(\[[0-9a-f]{2}\])+$/);
    const result = wireDecode(hexLineBytes(line) ?? new Uint8Array());
    if (!result.ok) throw new Error(`line ${i + 1}: ${result.error}`);
    return result.packet;
  });
}

type Keyed = Map<string, Array<{ utcMs: number; value: number }>>;

/** Checks every message's limits and returns its records per stream, in order. */
function packetRecords(packets: readonly WirePacket[]): { byStream: Keyed; blockTypes: Map<number, Set<number>> } {
  const byStream: Keyed = new Map();
  const blockTypes = new Map<number, Set<number>>();
  for (const p of packets) {
    expect(p.messageBytes).toBeLessThanOrEqual(WIRE_MESSAGE_BYTES_MAX);
    expect(p.payloadBytes).toBeLessThanOrEqual(WIRE_PAYLOAD_BYTES_MAX);
    expect(p.problems).toEqual([]);
    expect(p.coap).toMatchObject({ version: 1, typeName: "CON", codeText: "0.02" });
    expect(p.uri).toBe("selfreport/250007060/0000000001/0");
    for (const b of p.blocks) {
      expect(b.problem).toBeNull();
      expect(b.serial).toBe(1);
      expect(b.samples.every((s) => s.valid)).toBe(true);
    }
    for (const r of wirePacketRecords(p)) {
      const key = `${r.source}/${r.sensor}`;
      const list = byStream.get(key) ?? [];
      list.push({ utcMs: r.utcMs, value: r.value });
      byStream.set(key, list);
      const types = blockTypes.get(r.sensor) ?? new Set<number>();
      types.add(r.blockType);
      blockTypes.set(r.sensor, types);
    }
  }
  return { byStream, blockTypes };
}

/** The upload log per stream, event times truncated to seconds as the wire carries them. */
function logRecords(file: string, eventSensors: ReadonlySet<number>): Keyed {
  const out: Keyed = new Map();
  for (const r of uploadLogRecords(file)) {
    const key = `${r.source}/${r.sensor}`;
    const list = out.get(key) ?? [];
    list.push({ utcMs: eventSensors.has(r.sensor) ? Math.floor(r.utcMs / 1000) * 1000 : r.utcMs, value: r.value });
    out.set(key, list);
  }
  return out;
}

function sameRecords(packetsFile: string, logFile: string): { packets: WirePacket[]; records: number } {
  const packets = packetsRead(packetsFile);
  const { byStream, blockTypes } = packetRecords(packets);
  const events = new Set<number>();
  for (const [sensor, types] of blockTypes)
    if (types.has(BLOCK_TYPE_EVENT_SENSOR) || types.has(BLOCK_TYPE_EVENT_CONTROL)) events.add(sensor);
  const logged = logRecords(logFile, events);
  expect([...byStream.keys()].sort()).toEqual([...logged.keys()].sort());
  let records = 0;
  for (const [key, list] of logged) {
    expect(byStream.get(key), key).toEqual(list);
    records += list.length;
  }
  return { packets, records };
}

describe("run --packets", () => {
  const storage = path("twelve");
  const log = path("twelve.ndjson");
  const packetsFile = path("twelve.packets.txt");

  it("12 h with outages: the decoded messages are exactly the upload log's records, each within 1152 bytes", async () => {
    const summaryFile = path("twelve.json");
    const r = await cli([
      "run",
      "--storage",
      storage,
      "--duration",
      "12h",
      "--speed",
      "max",
      "--outage",
      "3h every 6h",
      "--upload-log",
      log,
      "--packets",
      packetsFile,
      "--quiet",
      "--json",
      summaryFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^wire {7}iMatrix CoAP: [\d,]+ messages acknowledged, [\d,]+ bytes on the wire, [\d.]+ bytes per record/m,
    );
    const summary = json(summaryFile) as DeviceSummary;
    const { packets, records } = sameRecords(packetsFile, log);
    expect(records).toBe(summary.records.appendedToLog);
    expect(records).toBeGreaterThan(10_000);
    expect(summary.uplink.outagesSeen).toBe(2);
    const bytes = packets.reduce((n, p) => n + p.messageBytes, 0);
    expect(summary.wire).toMatchObject({ messages: packets.length, bytes, packets: packetsFile });
    expect(summary.wire?.bytesPerRecord).toBeCloseTo(bytes / records, 2);
    expect(summary.wire?.messageBytesMax).toBe(Math.max(...packets.map((p) => p.messageBytes)));
    // After an outage the backlog drains in full messages.
    expect(packets.filter((p) => p.payloadBytes > WIRE_PAYLOAD_BYTES_MAX - 24).length).toBeGreaterThan(10);
    // The default harness: controls 2001–2004 as EVENT_CONTROL, the EVT sensors as EVENT_SENSOR,
    // the TSD sensors as SENSOR_MS.
    const { blockTypes } = packetRecords(packets);
    const typeOf = (sensor: number): number[] => [...(blockTypes.get(sensor) ?? [])];
    for (const sensor of [2001, 2002, 2003, 2004]) expect(typeOf(sensor)).toEqual([BLOCK_TYPE_EVENT_CONTROL]);
    for (const sensor of [1006, 1007]) expect(typeOf(sensor)).toEqual([BLOCK_TYPE_EVENT_SENSOR]);
    for (const sensor of [1001, 1002, 1003, 1004, 1005, 1008]) expect(typeOf(sensor)).toEqual([12]);
  });

  it("a resumed run appends; the whole file still matches the whole log", async () => {
    const before = readFileSync(packetsFile, "utf8");
    const r = await cli([
      "run",
      "--storage",
      storage,
      "--duration",
      "15h",
      "--speed",
      "max",
      "--outage",
      "3h every 6h",
      "--upload-log",
      log,
      "--packets",
      packetsFile,
      "--quiet",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const after = readFileSync(packetsFile, "utf8");
    expect(after.startsWith(before)).toBe(true);
    expect(after.length).toBeGreaterThan(before.length);
    sameRecords(packetsFile, log);
    // decode reads the file.
    const decoded = await cli(["decode", packetsFile, "--json", path("twelve.decoded.json")]);
    expect(decoded.code, decoded.stderr).toBe(0);
    const lines = after.split("\n").length - 1;
    expect((json(path("twelve.decoded.json")) as { packets: unknown[] }).packets).toHaveLength(lines);
  });

  it("lost and late answers: only acknowledged messages are in the file, and their records are the log's", async () => {
    const file = path("lossy.packets.txt");
    const lossyLog = path("lossy.ndjson");
    const summaryFile = path("lossy.json");
    const r = await cli([
      "run",
      "--duration",
      "6h",
      "--speed",
      "max",
      "--outage",
      "1h every 3h",
      "--ack-loss",
      "20",
      "--latency",
      "100-40000",
      "--upload-log",
      lossyLog,
      "--packets",
      file,
      "--quiet",
      "--json",
      summaryFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = json(summaryFile) as DeviceSummary;
    expect(summary.uplink.packetsLost + summary.uplink.packetsTimedOut).toBeGreaterThan(0);
    const { packets } = sameRecords(file, lossyLog);
    expect(packets).toHaveLength(summary.uplink.packetsAcked);
    expect(summary.wire?.messagesSent).toBeGreaterThan(packets.length);
  });

  it("a workload's role makes a TSD stream a control; --packet-format imatrix alone reports the figures", async () => {
    const workload = path("roles.json");
    writeFileSync(
      workload,
      JSON.stringify({
        streams: [
          { sensor: 5, type: "tsd", sampleRate: "1s", role: "control", dataType: "int32" },
          { sensor: 6, type: "evt", eventsPerHour: 3600, role: "sensor" },
          { sensor: 7, type: "tsd", sampleRate: "2s", dataType: "uint32" },
        ],
      }),
    );
    const summaryFile = path("roles.summary.json");
    const r = await cli([
      "run",
      "--workload",
      workload,
      "--duration",
      "20m",
      "--speed",
      "max",
      "--packet-format",
      "imatrix",
      "--quiet",
      "--json",
      summaryFile,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = json(summaryFile) as DeviceSummary;
    expect(summary.wire?.packets).toBeNull();
    expect(summary.wire?.messages).toBeGreaterThan(0);
    expect(summary.wire?.messageBytesMax).toBeLessThanOrEqual(WIRE_MESSAGE_BYTES_MAX);
    const packetsFile2 = path("roles.packets.txt");
    const log2 = path("roles.ndjson");
    const r2 = await cli([
      "run",
      "--workload",
      workload,
      "--duration",
      "20m",
      "--speed",
      "max",
      "--packets",
      packetsFile2,
      "--upload-log",
      log2,
      "--quiet",
    ]);
    expect(r2.code, r2.stderr).toBe(0);
    const { packets } = sameRecords(packetsFile2, log2);
    const types = new Map(packets.flatMap((p) => p.blocks.map((b) => [b.sensor, b.typeName] as const)));
    expect(Object.fromEntries(types)).toEqual({ 5: "CONTROL_MS", 6: "EVENT_SENSOR", 7: "SENSOR_MS" });
    const bad = path("bad-role.json");
    writeFileSync(bad, JSON.stringify({ streams: [{ sensor: 5, type: "tsd", sampleRate: "1s", role: "actuator" }] }));
    const r3 = await cli(["run", "--workload", bad, "--duration", "1m", "--speed", "max", "--quiet"]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toMatch(/streams\[0\]\.role: must be "sensor" or "control"/);
  });
});

describe("run --packets refuses bad input and changes nothing", () => {
  const base = path("refuse-base");
  async function refused(name: string, args: (dir: string) => string[], message: RegExp): Promise<void> {
    const dir = path(name);
    cpSync(base, dir, { recursive: true });
    const before = snapshot(dir);
    const result = await cli(["run", "--storage", dir, ...args(dir), "--speed", "max", "--duration", "20m", "--quiet"]);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^imx-memsim: [^\n]*\n$/);
    expect(snapshot(dir)).toEqual(before);
  }

  it("prepares a storage", async () => {
    mkdirSync(base, { recursive: true });
    const r = await cli(["run", "--storage", base, "--duration", "10m", "--speed", "max", "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("a --packets file in a directory that does not exist", async () => {
    await refused(
      "no-dir",
      () => ["--packets", path("missing/p.txt")],
      /--packets .*: the directory .*missing does not exist/,
    );
  });

  it("a --packets path that is a directory", async () => {
    await refused("is-dir", () => ["--packets", root], /is not a file/);
  });

  it("a --packets file that is not a packets file", async () => {
    const file = path("not-packets.txt");
    writeFileSync(file, "hello\n");
    await refused(
      "not-packets",
      () => ["--packets", file],
      /packets file .* line 1: not a "UPLOAD Message DATA as hex:/,
    );
    expect(readFileSync(file, "utf8")).toBe("hello\n");
  });

  it("--packets with --packet-format bulk, --packet with imatrix, an unknown format", async () => {
    const file = path("flags.txt");
    await refused("bulk", () => ["--packets", file, "--packet-format", "bulk"], /needs --packet-format imatrix/);
    await refused("packet", () => ["--packet-format", "imatrix", "--packet", "10"], /byte limits set them/);
    await refused("format", () => ["--packet-format", "json"], /--packet-format must be bulk or imatrix/);
  });
});
