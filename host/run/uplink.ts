// The device's uploader, after imatrix_upload() (reference section 1.4): every cycle it reads each
// stream in bulk, up to a packet's worth of records (they become pending), "sends" the packets,
// and when the cloud's answer arrives, after the simulated latency, acknowledges what was accepted
// and reverts (NACK) what was not. A packet whose answer is lost (--ack-loss), or that was in the
// air when the uplink went down (--outage), is reverted when the 30 s response timeout expires.
// While the uplink is down no cycle starts. After a cycle that found a full packet the next one
// starts at once (a backlog drains packet by packet); otherwise after the upload interval.
//
// The cloud is the upload log: an accepted packet's records are appended and fsynced BEFORE ack()
// is called. A record the log already holds (delivered again because the previous run died
// between the log's fsync and the ACK being made durable, or because an ACK was refused) is not
// appended again; it is acknowledged and counted as redelivered.
//
// With the iMatrix packet format (--packet-format imatrix, implied by --packets) a cycle sends one
// CoAP message per upload source instead of one packet per stream: the streams of the source, in
// turn from the one after the last cycle's first, give their next records as blocks until the
// message holds no more (host/format/imatrix-wire.ts: 1152 bytes a message, 1024 of payload).
// Each stream takes only as many records as fit, so the records per packet follow the byte
// limits, not the bulk size; a stream's next records go in the next cycle's message. An
// acknowledged message is appended to the packets file together with its records' log lines.
//
// Sequence numbers in the log are the cloud's: the device's sequence number plus an offset that is
// 0 unless the device, after losing its RAM to a kill, numbered records again from a sequence
// number the cloud had already seen (SPEC.md 6.4: the positions file is written only by an ACK
// that erases disk records and by a completed flush). device-run.ts picks the offsets so that each
// stream's seqs in the log only grow.

import * as abi from "../core/abi.generated.js";
import type { Device, UploadRecord } from "../core/device.js";
import { CoreError } from "../core/errors.js";
import type { Prng } from "../base/prng.js";
import { deviceLogLine, WireMessageBuilder, type WireIdentity, type WireStream } from "../format/imatrix-wire.js";
import type { OutageSchedule } from "./outage-schedule.js";
import type { PacketLogWriter } from "./packet-log.js";
import type { SensorStream } from "./sensors.js";
import { uploadLogLine, type UploadLogWriter } from "./upload-log.js";

/** IMX_UPLOAD_REQUEST_TIMEOUT on the device. */
export const UPLOAD_TIMEOUT_MS_DEFAULT = 30_000;
const PPM = 1_000_000;
/** The manufacturer id in the URI path of the iMatrix messages `run` sends (the captured device's). */
export const WIRE_MANUFACTURER_ID = 250007060;

export type PacketFormat = "bulk" | "imatrix";

export interface UplinkSettings {
  /** bulk (the default): one packet per stream of up to packetRecords; imatrix: one CoAP message per source. */
  packetFormat?: PacketFormat;
  /** Records per stream per packet (default: the board's bulk-read capacity); bulk reads for imatrix. */
  packetRecords: number;
  /** Time between upload cycles when there is no backlog. */
  everyMs: number;
  latencyMinMs: number;
  latencyMaxMs: number;
  timeoutMs: number;
  /** Chance that a packet's answer is lost, in parts per million. */
  ackLossPpm: number;
}

/** One stream as the uploader sees it: its device identity and the cloud's view of it. */
export interface RunStream {
  index: number;
  key: string;
  source: number;
  sensor: number;
  sensorStream: SensorStream;
  /** [fromDeviceSeq, offset] pairs, latest last: cloud seq = device seq + offset of the latest pair with from ≤ it. */
  seqOffsets: Array<[number, number]>;
  /** The last cloud seq the upload log holds for this stream, -1 for none. */
  logLastSeq: number;
  logTail: Map<number, { utcMs: number; value: number }>;
  storedAtStart: number;
  acked: number;
  /** When the oldest record of the last acknowledged packet was taken (NaN before the first ACK). */
  ackedFirstUtcMs: number;
  appended: number;
  redelivered: number;
}

export function cloudSeq(stream: RunStream, deviceSeq: number): number {
  const offsets = stream.seqOffsets;
  for (let i = offsets.length - 1; i >= 0; i--) {
    const entry = offsets[i];
    if (entry !== undefined && entry[0] <= deviceSeq) return deviceSeq + entry[1];
  }
  return deviceSeq;
}

interface PacketPart {
  stream: RunStream;
  records: UploadRecord[];
}

interface Packet {
  /** One stream's records for a bulk packet; a message's streams in order for imatrix. */
  parts: PacketPart[];
  lost: boolean;
  /** The message as sent (imatrix), or null. */
  wire: Uint8Array | null;
  /** imatrix: a stream had records the message could not take. bulk: the packet was full. */
  full: boolean;
}

/** How the uploader names itself on the wire (imatrix format). */
export interface UplinkWire {
  serial: number;
  /** The packets file, or null. */
  packets: PacketLogWriter | null;
}

export interface UplinkCounters {
  cycles: number;
  cyclesSkippedLinkDown: number;
  packetsSent: number;
  packetsAcked: number;
  packetsLost: number;
  packetsOutage: number;
  /** Packets whose answer would have come after the response timeout. */
  packetsTimedOut: number;
  recordsSent: number;
  recordsAcked: number;
  recordsAppended: number;
  recordsRedelivered: number;
  recordsReverted: number;
  /** A redelivered record that differs from what the log holds at its seq: a bug if ever non-zero. */
  redeliveryMismatches: number;
  /** Redelivered records older than the tail of the log read at start (not compared). */
  redeliveryUnchecked: number;
  /** ACKs the core refused (E_ACK_PERSIST); the packet was reverted and goes again. */
  ackPersistFailures: number;
  /** Appends to the upload log (or the packets file) that failed; the packets were reverted. */
  logFailures: number;
  /** imatrix format: bytes of the messages sent, and of those acknowledged. */
  wireBytesSent: number;
  wireBytesAcked: number;
  /** imatrix format: the largest message sent. */
  wireMessageBytesMax: number;
}

/** Idle between cycles, or waiting for the answer to the packets of a cycle. */
type UplinkPhase = "idle" | "waiting";

export class Uploader {
  private phase: UplinkPhase = "idle";
  private nextCycleMs: number;
  private responseAtMs = 0;
  private timeoutAtMs = 0;
  private packets: Packet[] = [];
  private answered = false;
  private cycleStartMs = 0;
  lastLogError: string | null = null;
  readonly counters: UplinkCounters = {
    cycles: 0,
    cyclesSkippedLinkDown: 0,
    packetsSent: 0,
    packetsAcked: 0,
    packetsLost: 0,
    packetsOutage: 0,
    packetsTimedOut: 0,
    recordsSent: 0,
    recordsAcked: 0,
    recordsAppended: 0,
    recordsRedelivered: 0,
    recordsReverted: 0,
    redeliveryMismatches: 0,
    redeliveryUnchecked: 0,
    ackPersistFailures: 0,
    logFailures: 0,
    wireBytesSent: 0,
    wireBytesAcked: 0,
    wireMessageBytesMax: 0,
  };
  private readonly wireStreams: WireStream[];
  private firstStream = 0;
  private messageCount = 0;

  constructor(
    private readonly device: Device,
    private readonly streams: readonly RunStream[],
    private readonly settings: UplinkSettings,
    private readonly schedule: OutageSchedule,
    private readonly prng: Prng,
    private readonly log: UploadLogWriter | null,
    startMs: number,
    private readonly wire: UplinkWire | null = null,
  ) {
    this.nextCycleMs = startMs;
    this.wireStreams = streams.map((stream) => {
      const spec = stream.sensorStream.spec;
      return {
        sensor: stream.sensor,
        role: spec.role === "control" ? "control" : "sensor",
        type: spec.type,
        dataType: spec.dataType,
        sampleRateMs: spec.type === "tsd" ? (spec.sampleRateMs ?? 1) : 0,
      };
    });
    if (settings.packetFormat === "imatrix" && wire === null) throw new Error("imatrix packets need a wire identity");
  }

  /** Records read and not yet acknowledged or reverted. */
  get inflightRecords(): number {
    let n = 0;
    for (const packet of this.packets) for (const part of packet.parts) n += part.records.length;
    return n;
  }

  step(nowMs: number): void {
    if (this.phase === "waiting") {
      if (!this.answered && nowMs >= this.responseAtMs) this.answer(nowMs);
      if (this.answered && nowMs >= this.timeoutAtMs) this.expire(nowMs);
      // answer() and expire() may have moved the phase on.
      if ((this.phase as UplinkPhase) === "waiting") return;
    }
    if (nowMs < this.nextCycleMs) return;
    if (!this.schedule.isUp(nowMs)) {
      this.counters.cyclesSkippedLinkDown++;
      this.nextCycleMs = nowMs + this.settings.everyMs;
      return;
    }
    this.send(nowMs);
  }

  private send(nowMs: number): void {
    const { packetRecords } = this.settings;
    this.counters.cycles++;
    if (this.settings.packetFormat === "imatrix") this.messagesBuild();
    else
      for (const stream of this.streams) {
        const records = this.device.readBulk(stream.source, stream.sensor, packetRecords);
        if (records.length === 0) continue;
        const lost = this.prng.chance(this.settings.ackLossPpm, PPM);
        this.packets.push({ parts: [{ stream, records }], lost, wire: null, full: records.length >= packetRecords });
        this.counters.packetsSent++;
        this.counters.recordsSent += records.length;
      }
    if (this.packets.length === 0) {
      this.nextCycleMs = nowMs + this.settings.everyMs;
      return;
    }
    const latencyMs = this.prng.between(this.settings.latencyMinMs, this.settings.latencyMaxMs);
    this.phase = "waiting";
    this.answered = false;
    this.responseAtMs = nowMs + latencyMs;
    this.timeoutAtMs = nowMs + this.settings.timeoutMs;
    // An answer slower than the timeout never counts: the packets time out.
    if (latencyMs >= this.settings.timeoutMs) {
      this.answered = true;
      for (const packet of this.packets) packet.lost = true;
      this.counters.packetsTimedOut += this.packets.length;
    }
    this.cycleStartMs = nowMs;
  }

  /**
   * One message per upload source, filled stream by stream (starting one stream further each
   * cycle, so that no stream waits behind another's backlog) with as many records as fit.
   */
  private messagesBuild(): void {
    const wire = this.wire;
    if (wire === null) return;
    const n = this.streams.length;
    const builders = new Map<number, { builder: WireMessageBuilder; parts: PacketPart[]; full: boolean }>();
    for (let k = 0; k < n; k++) {
      const index = (this.firstStream + k) % n;
      const stream = this.streams[index];
      const wireStream = this.wireStreams[index];
      if (stream === undefined || wireStream === undefined) continue;
      let message = builders.get(stream.source);
      if (message === undefined) {
        const identity: WireIdentity = {
          manufacturerId: WIRE_MANUFACTURER_ID,
          serial: wire.serial,
          source: stream.source,
        };
        const ids = { messageId: (this.messageCount + builders.size) & 0xffff, token: this.prng.next() };
        message = { builder: new WireMessageBuilder(identity, ids), parts: [], full: false };
        builders.set(stream.source, message);
      }
      const { records, full } = this.streamTake(stream, wireStream, message.builder);
      if (full) message.full = true;
      if (records.length === 0) continue;
      const added = message.builder.add(wireStream, records);
      if (added !== records.length) throw new Error(`wire: ${added} of ${records.length} records fitted`);
      message.parts.push({ stream, records });
    }
    this.firstStream = n === 0 ? 0 : (this.firstStream + 1) % n;
    for (const { builder, parts, full } of builders.values()) {
      if (parts.length === 0) continue;
      const bytes = builder.bytes();
      this.messageCount++;
      const lost = this.prng.chance(this.settings.ackLossPpm, PPM);
      this.packets.push({ parts, lost, wire: bytes, full });
      this.counters.packetsSent++;
      this.counters.wireBytesSent += bytes.length;
      this.counters.wireMessageBytesMax = Math.max(this.counters.wireMessageBytesMax, bytes.length);
      for (const part of parts) this.counters.recordsSent += part.records.length;
    }
  }

  /**
   * Reads (marks pending) as many of the stream's next records as the message can still take,
   * in bulk reads of packetRecords. `full`: records were left that did not fit.
   */
  private streamTake(
    stream: RunStream,
    wireStream: WireStream,
    builder: WireMessageBuilder,
  ): { records: UploadRecord[]; full: boolean } {
    const bulk = this.settings.packetRecords;
    const taken: UploadRecord[] = [];
    // Each pass reads at least one record or ends the loop; the message's room bounds the reads.
    for (;;) {
      const peeked = this.device.peek(stream.source, stream.sensor, bulk);
      if (peeked.length === 0) return { records: taken, full: false };
      const more = builder.fit(wireStream, taken.length === 0 ? peeked : taken.concat(peeked)) - taken.length;
      if (more <= 0) return { records: taken, full: true };
      const read = this.device.readBulk(stream.source, stream.sensor, more);
      for (const record of read) taken.push(record);
      if (read.length < peeked.length) return { records: taken, full: true };
      if (peeked.length < bulk) return { records: taken, full: false };
    }
  }

  /** The cloud's answer: the accepted packets go to the log, then are acknowledged. */
  private answer(nowMs: number): void {
    this.answered = true;
    const linkUp = this.schedule.isUp(nowMs);
    const accepted: Packet[] = [];
    for (const packet of this.packets) {
      if (!linkUp) {
        packet.lost = true;
        this.counters.packetsOutage++;
      } else if (packet.lost) {
        this.counters.packetsLost++;
      } else {
        accepted.push(packet);
      }
    }
    const logged = this.logAppend(accepted);
    let full = false;
    if (!logged) {
      for (const packet of accepted) this.revert(packet);
    } else if (accepted.length > 0) {
      // One group commit for the cycle: every accepted stream's ACK in one ACK-log write.
      const counts = new Map<RunStream, number>();
      for (const packet of accepted) {
        for (const { stream, records } of packet.parts) counts.set(stream, (counts.get(stream) ?? 0) + records.length);
      }
      let refused = false;
      try {
        this.device.ackMany(
          [...counts].map(([stream, count]) => ({ source: stream.source, sensor: stream.sensor, count })),
        );
      } catch (error) {
        if (!(error instanceof CoreError) || error.code !== abi.E_ACK_PERSIST) throw error;
        // The log has the records; the device did not erase them. They go again and are recognised.
        this.counters.ackPersistFailures++;
        refused = true;
      }
      for (const packet of accepted) {
        if (refused) {
          this.revert(packet);
          continue;
        }
        for (const { stream, records } of packet.parts) {
          stream.acked += records.length;
          stream.ackedFirstUtcMs = records[0]?.utcMs ?? stream.ackedFirstUtcMs;
          this.counters.recordsAcked += records.length;
        }
        this.counters.packetsAcked++;
        if (packet.wire !== null) this.counters.wireBytesAcked += packet.wire.length;
        if (packet.full) full = true;
      }
    }
    this.packets = this.packets.filter((packet) => packet.lost);
    if (this.packets.length === 0) this.cycleEnd(nowMs, full && logged);
  }

  /** The response timeout: lost packets are reverted. */
  private expire(nowMs: number): void {
    for (const packet of this.packets) this.revert(packet);
    this.packets = [];
    this.cycleEnd(nowMs, false);
  }

  private cycleEnd(nowMs: number, backlog: boolean): void {
    this.phase = "idle";
    this.nextCycleMs = backlog ? nowMs : Math.max(nowMs, this.cycleStartMs + this.settings.everyMs);
  }

  private revert(packet: Packet): void {
    for (const { stream, records } of packet.parts) {
      this.device.revert(stream.source, stream.sensor);
      this.counters.recordsReverted += records.length;
    }
  }

  /** Appends the records the log does not hold yet; false if the log could not be written. */
  private logAppend(accepted: readonly Packet[]): boolean {
    let text = "";
    const tally = new Map<
      RunStream,
      { last: number; appended: number; redelivered: number; mismatches: number; unchecked: number }
    >();
    for (const { stream, records } of accepted.flatMap((packet) => packet.parts)) {
      let t = tally.get(stream);
      if (t === undefined) {
        t = { last: stream.logLastSeq, appended: 0, redelivered: 0, mismatches: 0, unchecked: 0 };
        tally.set(stream, t);
      }
      for (const record of records) {
        const seq = cloudSeq(stream, record.seq);
        if (seq <= t.last) {
          // Already in the log: acknowledged again, not appended again.
          t.redelivered++;
          const logged = stream.logTail.get(seq);
          if (logged === undefined) t.unchecked++;
          else if (logged.utcMs !== record.utcMs || !Object.is(logged.value, record.value)) t.mismatches++;
          continue;
        }
        if (this.log !== null)
          text += uploadLogLine({
            source: stream.source,
            sensor: stream.sensor,
            seq,
            utcMs: record.utcMs,
            value: record.value,
          });
        t.last = seq;
        t.appended++;
      }
    }
    let appended = 0;
    for (const t of tally.values()) appended += t.appended;
    // The packets file first, then the upload log; if the log fails, the packets are taken back.
    const packetLog = this.wire?.packets ?? null;
    let lines = "";
    let wireBytes = 0;
    for (const packet of accepted) {
      if (packet.wire === null) continue;
      lines += `${deviceLogLine(packet.wire)}\n`;
      wireBytes += packet.wire.length;
    }
    const mark = packetLog?.mark() ?? 0;
    try {
      if (packetLog !== null && lines !== "") packetLog.append(lines, accepted.length, wireBytes);
      if (this.log !== null && text !== "") this.log.append(text, appended);
    } catch (error) {
      if (packetLog !== null && lines !== "" && packetLog.mark() !== mark)
        packetLog.rollback(mark, accepted.length, wireBytes);
      this.counters.logFailures++;
      this.lastLogError = (error as Error).message;
      return false;
    }
    const c = this.counters;
    for (const [stream, t] of tally) {
      stream.logLastSeq = t.last;
      stream.appended += t.appended;
      stream.redelivered += t.redelivered;
      c.recordsAppended += t.appended;
      c.recordsRedelivered += t.redelivered;
      c.redeliveryMismatches += t.mismatches;
      c.redeliveryUnchecked += t.unchecked;
    }
    return true;
  }

  /** Reverts every packet in the air (a stop): its records stay on the device and go next run. */
  abandon(): number {
    let n = 0;
    for (const packet of this.packets) {
      this.revert(packet);
      for (const part of packet.parts) n += part.records.length;
    }
    this.packets = [];
    this.phase = "idle";
    return n;
  }
}
