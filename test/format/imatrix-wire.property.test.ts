// The iMatrix wire format (host/format/imatrix-wire.ts, imatrix-decode.ts), shown by property:
// - random streams of records → encode → decode → the same records per stream, in order (event
//   times truncated to whole seconds, as on the device), every message within its limits;
// - every byte limit at its edge: a payload of exactly 1024 bytes, one more sample opens a second
//   message; the message limit when it is the tighter one; blocks of the most samples ≤ 1023 bytes;
// - a TSD gap starts a new block; controls become CONTROL_MS / EVENT_CONTROL blocks;
// - a corpus of malformed messages (truncated headers and options, lengths past the end, unknown
//   types, random bytes) decodes without throwing;
// - the hand-made dump of the captured device packet (test/fixtures) decodes into its 10 blocks.
// fast-check prints the seed and path that replay a failure.

import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hexLineBytes, wireDecode, wirePacketRecords, type WirePacket } from "../../host/format/imatrix-decode.js";
import {
  BLOCK_HEADER_BYTES,
  BLOCK_TYPE_CONTROL_MS,
  BLOCK_TYPE_EVENT_CONTROL,
  BLOCK_TYPE_EVENT_SENSOR,
  BLOCK_TYPE_SENSOR_MS,
  deviceLogLine,
  WIRE_LIMITS,
  WIRE_MESSAGE_BYTES_MAX,
  WIRE_PAYLOAD_BYTES_MAX,
  wireEncode,
  wireMessageHead,
  type WireIdentity,
  type WireLimits,
  type WireRecord,
  type WireStream,
} from "../../host/format/imatrix-wire.js";

const IDENTITY: WireIdentity = { manufacturerId: 250007060, serial: 513973109, source: 0 };
const T0 = Date.UTC(2025, 0, 10);

function decoded(bytes: Uint8Array): WirePacket {
  const result = wireDecode(bytes);
  if (!result.ok) throw new Error(result.error);
  return result.packet;
}

/** Encodes and decodes; returns the records per sensor and checks every message's limits. */
function roundTrip(
  streams: Array<{ stream: WireStream; records: WireRecord[] }>,
  limits: WireLimits = WIRE_LIMITS,
  identity: WireIdentity = IDENTITY,
): { packets: WirePacket[]; bySensor: Map<number, WireRecord[]> } {
  const messages = wireEncode(identity, streams, { limits });
  const packets = messages.map(decoded);
  const bySensor = new Map<number, WireRecord[]>();
  for (const packet of packets) {
    expect(packet.messageBytes).toBeLessThanOrEqual(limits.messageBytesMax);
    expect(packet.payloadBytes).toBeLessThanOrEqual(limits.payloadBytesMax);
    expect(packet.problems).toEqual([]);
    expect(packet.trailingBytes).toBe(0);
    expect(packet.coap).toMatchObject({ version: 1, typeName: "CON", codeText: "0.02", tokenLength: 4 });
    expect(packet.uri).toBe(
      `selfreport/${identity.manufacturerId}/${String(identity.serial).padStart(10, "0")}/${identity.source}`,
    );
    for (const block of packet.blocks) {
      expect(block.problem).toBeNull();
      expect(block.serial).toBe(identity.serial);
      expect(block.sampleCount).toBeLessThanOrEqual(limits.blockSamplesMax);
      expect(block.payloadBytes).toBeLessThanOrEqual(limits.blockPayloadBytesMax);
    }
    for (const r of wirePacketRecords(packet)) {
      expect(r.source).toBe(identity.source);
      const list = bySensor.get(r.sensor) ?? [];
      list.push({ utcMs: r.utcMs, value: r.value });
      bySensor.set(r.sensor, list);
    }
  }
  return { packets, bySensor };
}

/** What the cloud gets of a record: event ms truncated to seconds, values as their 32-bit words say. */
function expected(stream: WireStream, records: readonly WireRecord[]): WireRecord[] {
  return records.map((r) => ({
    utcMs: stream.type === "evt" ? Math.floor(r.utcMs / 1000) * 1000 : r.utcMs,
    value: stream.dataType === "float32" ? Math.fround(r.value) : r.value,
  }));
}

const dataTypeArb = fc.constantFrom("uint32" as const, "int32" as const, "float32" as const);
const valueArb = (dataType: WireStream["dataType"]): fc.Arbitrary<number> =>
  dataType === "uint32"
    ? fc.integer({ min: 0, max: 0xffff_ffff })
    : dataType === "int32"
      ? fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })
      : fc.float({ noNaN: true, noDefaultInfinity: true });

/** A stream and its records: TSD on its rate's grid with random gaps, EVT at growing ms times. */
const streamArb = (sensor: number): fc.Arbitrary<{ stream: WireStream; records: WireRecord[] }> =>
  fc
    .record({
      role: fc.constantFrom("sensor" as const, "control" as const),
      type: fc.constantFrom("tsd" as const, "evt" as const),
      dataType: dataTypeArb,
      sampleRateMs: fc.integer({ min: 1, max: 600_000 }),
      count: fc.integer({ min: 0, max: 700 }),
    })
    .chain(({ role, type, dataType, sampleRateMs, count }) =>
      fc
        .tuple(
          fc.array(valueArb(dataType), { minLength: count, maxLength: count }),
          fc.array(fc.integer({ min: 1, max: 20 }), { minLength: count, maxLength: count }),
          fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: count, maxLength: count }),
        )
        .map(([values, steps, gaps]) => {
          const stream: WireStream = { sensor, role, type, dataType, sampleRateMs };
          let t = T0;
          const records = values.map((value, i) => {
            // TSD: mostly one rate on, sometimes a gap of several; EVT: any growing times.
            t += type === "tsd" ? sampleRateMs * ((steps[i] ?? 1) > 17 ? (steps[i] ?? 1) : 1) : (gaps[i] ?? 1);
            return { utcMs: t, value };
          });
          return { stream, records };
        }),
    );

describe("round trip", () => {
  it("random streams → encode → decode give every stream's records back, in order", () => {
    fc.assert(
      fc.property(
        fc
          .uniqueArray(fc.integer({ min: 0, max: 0xffff_ffff }), { minLength: 1, maxLength: 6 })
          .chain((sensors) => fc.tuple(...sensors.map((s) => streamArb(s)))),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        (streams, source) => {
          const identity = { ...IDENTITY, source };
          const { packets, bySensor } = roundTrip(streams, WIRE_LIMITS, identity);
          for (const { stream, records } of streams) {
            expect(bySensor.get(stream.sensor) ?? []).toEqual(expected(stream, records));
          }
          const blockTypes = new Set(packets.flatMap((p) => p.blocks.map((b) => b.type)));
          for (const type of blockTypes)
            expect([
              BLOCK_TYPE_SENSOR_MS,
              BLOCK_TYPE_CONTROL_MS,
              BLOCK_TYPE_EVENT_SENSOR,
              BLOCK_TYPE_EVENT_CONTROL,
            ]).toContain(type);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a TSD block holds evenly spaced samples: a gap starts a new block", () => {
    const stream: WireStream = { sensor: 1004, role: "sensor", type: "tsd", dataType: "uint32", sampleRateMs: 10_000 };
    const times = [0, 10_000, 20_000, 50_000, 60_000, 65_000];
    const records = times.map((t, i) => ({ utcMs: T0 + t, value: i }));
    const { packets, bySensor } = roundTrip([{ stream, records }]);
    expect(packets).toHaveLength(1);
    expect(packets[0]?.blocks.map((b) => b.sampleCount)).toEqual([3, 2, 1]);
    expect(packets[0]?.blocks.every((b) => b.typeName === "SENSOR_MS" && b.rate === 10_000)).toBe(true);
    expect(bySensor.get(1004)).toEqual(records);
  });

  it("controls become CONTROL_MS and EVENT_CONTROL blocks, sensors SENSOR_MS and EVENT_SENSOR", () => {
    const mk = (sensor: number, role: WireStream["role"], type: WireStream["type"]): WireStream => ({
      sensor,
      role,
      type,
      dataType: "int32",
      sampleRateMs: 1000,
    });
    const records = [{ utcMs: T0 + 1500, value: -3 }];
    const { packets } = roundTrip([
      { stream: mk(1, "sensor", "tsd"), records },
      { stream: mk(2, "control", "tsd"), records },
      { stream: mk(3, "sensor", "evt"), records },
      { stream: mk(4, "control", "evt"), records },
    ]);
    expect(packets[0]?.blocks.map((b) => [b.sensor, b.typeName, b.dataTypeName])).toEqual([
      [1, "SENSOR_MS", "int32"],
      [2, "CONTROL_MS", "int32"],
      [3, "EVENT_SENSOR", "int32"],
      [4, "EVENT_CONTROL", "int32"],
    ]);
    expect(packets[0]?.blocks[2]?.samples[0]).toEqual({ time: (T0 + 1000) / 1000, value: -3, valid: true });
  });
});

describe("limits at their edges", () => {
  const tsd: WireStream = { sensor: 1001, role: "sensor", type: "tsd", dataType: "float32", sampleRateMs: 1000 };
  const evt: WireStream = { sensor: 1006, role: "sensor", type: "evt", dataType: "uint32", sampleRateMs: 0 };
  const run = (n: number, every = 1000): WireRecord[] =>
    Array.from({ length: n }, (_, i) => ({ utcMs: T0 + i * every, value: i }));
  const head = wireMessageHead(IDENTITY, { messageId: 0, token: 0 }).length;

  it("a TSD stream fills a payload of exactly 1024 bytes; one more sample opens a second message", () => {
    // 12-byte header + 12-byte time and rate + 4 bytes per sample: 250 samples are 1024 bytes.
    const full = roundTrip([{ stream: tsd, records: run(250) }]).packets;
    expect(full.map((p) => p.payloadBytes)).toEqual([WIRE_PAYLOAD_BYTES_MAX]);
    expect(full[0]?.messageBytes).toBe(head + WIRE_PAYLOAD_BYTES_MAX);
    expect(full[0]?.messageBytes).toBeLessThanOrEqual(WIRE_MESSAGE_BYTES_MAX);
    const over = roundTrip([{ stream: tsd, records: run(251) }]).packets;
    expect(over.map((p) => p.blocks.map((b) => b.sampleCount))).toEqual([[250], [1]]);
  });

  it("EVT samples fill a payload up to the last whole sample", () => {
    // 12 + 8 × 126 = 1020 bytes; a 127th sample would make 1028.
    const packets = roundTrip([{ stream: evt, records: run(127) }]).packets;
    expect(packets.map((p) => p.payloadBytes)).toEqual([1020, 20]);
  });

  it("a stream continues in the next block when the room left takes part of it", () => {
    const packets = roundTrip([
      { stream: evt, records: run(100) },
      { stream: tsd, records: run(100) },
    ]).packets;
    // 12 + 800 = 812 bytes of EVT leave 212: a TSD block of (212 − 24) / 4 = 47 samples.
    expect(packets.map((p) => p.blocks.map((b) => `${b.sensor}:${b.sampleCount}`))).toEqual([
      ["1006:100", "1001:47"],
      ["1001:53"],
    ]);
    expect(packets[0]?.payloadBytes).toBe(1024);
  });

  it("the message limit binds when it is the tighter one: exactly messageBytesMax", () => {
    const limits: WireLimits = { ...WIRE_LIMITS, messageBytesMax: head + 24 + 4 * 100 };
    const packets = roundTrip([{ stream: tsd, records: run(101) }], limits).packets;
    expect(packets.map((p) => p.messageBytes)).toEqual([limits.messageBytesMax, head + 24 + 4]);
    const under = roundTrip([{ stream: tsd, records: run(101) }], {
      ...limits,
      messageBytesMax: limits.messageBytesMax + 3,
    }).packets;
    expect(under.map((p) => p.blocks.map((b) => b.sampleCount))).toEqual([[100], [1]]);
  });

  it("blocks stop at 1023 payload bytes when the payload limit allows more", () => {
    const limits: WireLimits = { ...WIRE_LIMITS, messageBytesMax: 4000, payloadBytesMax: 3000 };
    // TSD: 12 + 4 × 252 = 1020 ≤ 1023 < 1024. EVT: 8 × 127 = 1016 ≤ 1023 < 1024.
    const t = roundTrip([{ stream: tsd, records: run(253) }], limits).packets;
    expect(t.flatMap((p) => p.blocks.map((b) => [b.sampleCount, b.payloadBytes]))).toEqual([
      [252, 1020],
      [1, 16],
    ]);
    const e = roundTrip([{ stream: evt, records: run(128) }], limits).packets;
    expect(e.flatMap((p) => p.blocks.map((b) => [b.sampleCount, b.payloadBytes]))).toEqual([
      [127, 1016],
      [1, 8],
    ]);
  });

  it("blocks stop at the sample limit", () => {
    const limits: WireLimits = { ...WIRE_LIMITS, blockSamplesMax: 40 };
    const packets = roundTrip([{ stream: tsd, records: run(81) }], limits).packets;
    expect(packets.flatMap((p) => p.blocks.map((b) => b.sampleCount))).toEqual([40, 40, 1]);
  });

  it("refuses what the wire cannot carry", () => {
    expect(() => wireEncode(IDENTITY, [{ stream: evt, records: [{ utcMs: T0, value: -1 }] }])).toThrow(RangeError);
    expect(() =>
      wireEncode(IDENTITY, [{ stream: evt, records: run(1) }], {
        limits: { ...WIRE_LIMITS, payloadBytesMax: BLOCK_HEADER_BYTES + 7 },
      }),
    ).toThrow(/no room/);
    expect(() =>
      wireEncode(IDENTITY, [{ stream: evt, records: run(1) }], { limits: { ...WIRE_LIMITS, blockSamplesMax: 256 } }),
    ).toThrow(RangeError);
  });
});

describe("malformed messages", () => {
  const good = wireEncode(IDENTITY, [
    {
      stream: { sensor: 2, role: "sensor", type: "evt", dataType: "float32", sampleRateMs: 0 },
      records: [{ utcMs: T0, value: 1.5 }],
    },
    {
      stream: { sensor: 29, role: "sensor", type: "tsd", dataType: "int32", sampleRateMs: 10_000 },
      records: [{ utcMs: T0, value: -70 }],
    },
  ])[0] as Uint8Array;

  it("every prefix, every single-byte change and random bytes decode without throwing", () => {
    for (let n = 0; n <= good.length; n++) {
      const result = wireDecode(good.subarray(0, n));
      if (n < 4) expect(result.ok).toBe(false);
      else expect(result.ok).toBe(true);
    }
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
        const copy = Uint8Array.from(good);
        copy[at] = byte;
        wireDecode(copy);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1400 }), (bytes) => {
        wireDecode(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it("reports a length past the end, an unknown type and trailing bytes, and reads on", () => {
    const headBytes = good.indexOf(0xff) + 1;
    // Unknown type 40 with a 4-byte payload, then a good EVENT block, then 5 stray bytes.
    const unknown = [0, 0, 0, 1, 0, 0, 0, 9, 0x00, 0x04, 0x04, 40, 1, 2, 3, 4];
    const evtBlock = Array.from(good.subarray(headBytes, headBytes + 20));
    const bytes = Uint8Array.from([...good.subarray(0, headBytes), ...unknown, ...evtBlock, 1, 2, 3, 4, 5]);
    const p = decoded(bytes);
    expect(p.blocks.map((b) => [b.typeName, b.problem === null])).toEqual([
      ["UNKNOWN_40", false],
      ["EVENT_SENSOR", true],
    ]);
    expect(p.blocks[1]?.samples).toEqual([{ time: T0 / 1000, value: 1.5, valid: true }]);
    expect(p.trailingBytes).toBe(5);
    expect(p.problems.join()).toMatch(/5 trailing bytes/);
    // A payload length past the end: the block is reported, what is left is counted.
    const cut = decoded(good.subarray(0, headBytes + 16));
    expect(cut.blocks[0]?.problem).toMatch(/runs past the end/);
    expect(cut.trailingBytes).toBe(4);
    // A sample count the payload cannot hold.
    const wrong = Uint8Array.from(good);
    wrong[headBytes + 9] = 0x0c; // sample count (bits 18–25) 3, in an 8-byte payload
    const w = decoded(wrong);
    expect(w.blocks[0]?.problem).toMatch(/does not hold/);
  });

  it("truncated options and reserved token lengths are problems, not exceptions", () => {
    expect(decoded(Uint8Array.from([0x44, 0x02, 0, 1, 1, 2])).problems.join()).toMatch(/token/);
    expect(decoded(Uint8Array.from([0x49, 0x02, 0, 1])).problems.join()).toMatch(/reserved/);
    expect(decoded(Uint8Array.from([0x40, 0x02, 0, 1, 0xbd])).problems.join()).toMatch(/past the end/);
    expect(decoded(Uint8Array.from([0x40, 0x02, 0, 1, 0xb5, 0x61])).problems.join()).toMatch(/past the end/);
    expect(decoded(Uint8Array.from([0x40, 0x02, 0, 1, 0xf1])).problems.join()).toMatch(/reserved/);
  });
});

describe("device-log lines", () => {
  it("a message as a device-log line reads back to the same bytes; other brackets are ignored", () => {
    const bytes = Uint8Array.from([0x24, 0x16, 0x92, 0x2f, 0xff]);
    const line = `[00:05:02.582] ${deviceLogLine(bytes)}`;
    expect(line).toBe("[00:05:02.582] UPLOAD Message DATA as hex:   [24][16][92][2f][ff]");
    expect(hexLineBytes(line)).toEqual(bytes);
    expect(hexLineBytes("[00:05:02.582] UPLOAD done [ok]")).toBeNull();
  });
});

describe("the captured device packet", () => {
  const text = readFileSync(new URL("../fixtures/imatrix-captured-packet.txt", import.meta.url), "utf8");
  const lines = text.split("\n").map(hexLineBytes);
  const bytes = lines.find((b) => b !== null) ?? new Uint8Array();

  it("decodes into its 10 blocks with their samples, larger than the limits and not refused", () => {
    const p = decoded(bytes);
    expect(lines.filter((b) => b !== null)).toHaveLength(1);
    expect(p.payloadBytes).toBe(1224);
    expect(p.messageBytes).toBeGreaterThan(WIRE_MESSAGE_BYTES_MAX);
    expect(p.coap).toMatchObject({ version: 0, typeName: "ACK", tokenLength: 4, messageId: 0x922f });
    expect(p.uri).toBe("selfreport/250007060/0513973109/0");
    expect(p.problems).toEqual([]);
    expect(p.trailingBytes).toBe(0);
    expect(p.blocks.map((b) => [b.typeName, b.sensor, b.sampleCount, b.payloadBytes])).toEqual([
      ["EVENT_SENSOR", 2, 30, 240],
      ["EVENT_SENSOR", 3, 30, 240],
      ["EVENT_SENSOR", 4, 30, 240],
      ["EVENT_SENSOR", 142, 30, 240],
      ["SENSOR_MS", 29, 3, 24],
      ["SENSOR_MS", 43, 3, 24],
      ["SENSOR_MS", 44, 3, 24],
      ["SENSOR_MS", 45, 3, 24],
      ["SENSOR_MS", 46, 3, 24],
      ["SENSOR_MS", 65, 3, 24],
    ]);
    expect(p.blocks.slice(0, 3).map((b) => b.sensorName)).toEqual(["GPS_Latitude", "GPS_Longitude", "GPS_Altitude"]);
    expect(p.blocks[3]?.sensorName).toBeNull();
    // The firmware's uptime-based event seconds: shown, flagged invalid.
    for (const block of p.blocks.slice(0, 4)) {
      expect(block.samples).toHaveLength(30);
      expect(block.samples.every((s) => !s.valid && s.time > 2e8 && s.time < 3e8)).toBe(true);
    }
    for (const block of p.blocks.slice(4)) {
      expect(block.samples).toHaveLength(3);
      expect(block.samples.every((s) => s.valid)).toBe(true);
    }
    expect(p.blocks[4]?.samples.map((s) => s.value)).toEqual([-71, -72, -70]);
  });
});
