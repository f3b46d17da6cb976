// The iMatrix upload wire format, decoder side: a CoAP message (as bytes, or as a device-log line of
// bracketed hex) read back into its header, options, blocks and samples. It never throws on bad
// bytes: what it cannot read is reported (problems, trailing bytes, a block's problem) and the rest
// is read on. It does not enforce the size limits (captured device messages are larger) and does
// not check the CoAP version (a captured device POST reads as version 0, type ACK). Timestamps
// outside 2000-01-01 … 2100-01-01 are flagged invalid: a firmware bug sent uptime-based seconds.
// Pure code, no I/O.

import {
  BLOCK_HEADER_BYTES,
  BLOCK_MS_PREFIX_BYTES,
  BLOCK_TYPE_CONTROL,
  BLOCK_TYPE_CONTROL_MS,
  BLOCK_TYPE_EVENT_CONTROL,
  BLOCK_TYPE_EVENT_SENSOR,
  BLOCK_TYPE_EVENT_SENSOR_MS,
  BLOCK_TYPE_FLAG_CONTROL_SENSOR,
  BLOCK_TYPE_SENSOR,
  BLOCK_TYPE_SENSOR_MS,
  blockTypeName,
  COAP_HEADER_BYTES,
  COAP_OPTION_CONTENT_FORMAT,
  COAP_OPTION_URI_PATH,
  COAP_PAYLOAD_MARKER,
  COAP_TOKEN_BYTES_MAX,
  COAP_TYPE_NAMES,
  EVENT_SAMPLE_BYTES,
  INTERNAL_SENSOR_NAMES,
  SAMPLE_VALUE_BYTES,
  WIRE_DATA_TYPE_NAMES,
  wireValueFromBits,
} from "./imatrix-wire.js";

/** 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z in UTC seconds: the tools' sanity window. */
export const WIRE_TIME_VALID_FROM_S = 946_684_800;
export const WIRE_TIME_VALID_UNTIL_S = 4_102_444_800;

export interface CoapHeader {
  version: number;
  type: number;
  typeName: string;
  tokenLength: number;
  /** The code byte; `codeText` is class.detail, e.g. "0.02". */
  code: number;
  codeText: string;
  messageId: number;
  /** Token bytes as hex. */
  token: string;
}

export interface CoapOption {
  number: number;
  name: string;
  /** Uri-Path and other string options as text; Content-Format and other uint options as a number. */
  value: string | number;
}

export interface WireSample {
  /** UTC seconds, or UTC ms in an `_MS` block. */
  time: number;
  value: number;
  valid: boolean;
}

export interface WireBlock {
  /** Offset of the block header in the message. */
  offset: number;
  type: number;
  typeName: string;
  serial: number;
  sensor: number;
  /** The internal sensor's name, when the id is one of them. */
  sensorName: string | null;
  dataType: number;
  dataTypeName: string;
  payloadBytes: number;
  sampleCount: number;
  /** "s" or "ms" for blocks of samples; null for blocks this decoder skips. */
  timeUnit: "s" | "ms" | null;
  /** The block's sample rate (in its time unit), for the blocks that carry one. */
  rate: number | null;
  samples: WireSample[];
  /** FLAG_CONTROL_SENSOR only: bits 18–20 and 21–28 of the header. */
  warningLevel?: number;
  errorCode?: number;
  /** What is wrong with the block, or null. */
  problem: string | null;
}

export interface WirePacket {
  messageBytes: number;
  coap: CoapHeader;
  options: CoapOption[];
  /** Uri-Path segments joined by "/". */
  uri: string;
  contentFormat: number | null;
  payloadBytes: number;
  blocks: WireBlock[];
  /** Bytes after the last block that do not make a block header (or that a malformed block left). */
  trailingBytes: number;
  problems: string[];
}

export type WireDecodeResult = { ok: true; packet: WirePacket } | { ok: false; error: string };

const OPTION_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "If-Match"],
  [3, "Uri-Host"],
  [4, "ETag"],
  [5, "If-None-Match"],
  [7, "Uri-Port"],
  [8, "Location-Path"],
  [11, "Uri-Path"],
  [12, "Content-Format"],
  [14, "Max-Age"],
  [15, "Uri-Query"],
  [17, "Accept"],
  [20, "Location-Query"],
  [23, "Block2"],
  [27, "Block1"],
  [28, "Size2"],
  [35, "Proxy-Uri"],
  [39, "Proxy-Scheme"],
  [60, "Size1"],
]);
const UINT_OPTIONS = new Set([7, 12, 14, 17, 23, 27, 28, 60]);
const STRING_OPTIONS = new Set([3, 8, 11, 15, 20, 35, 39]);

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += byte.toString(16).padStart(2, "0");
  return text;
}

export function wireTimeValid(time: number, unit: "s" | "ms"): boolean {
  const seconds = unit === "ms" ? time / 1000 : time;
  return seconds >= WIRE_TIME_VALID_FROM_S && seconds < WIRE_TIME_VALID_UNTIL_S;
}

/** Decodes one message. A message too short for a CoAP header is an error; anything else decodes. */
export function wireDecode(bytes: Uint8Array): WireDecodeResult {
  if (bytes.length < COAP_HEADER_BYTES)
    return { ok: false, error: `truncated CoAP header: ${bytes.length} bytes, a header is ${COAP_HEADER_BYTES}` };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = view.getUint8(0);
  const code = view.getUint8(1);
  const tokenLength = first & 0x0f;
  const problems: string[] = [];
  const tokenBytes = Math.min(tokenLength, COAP_TOKEN_BYTES_MAX, bytes.length - COAP_HEADER_BYTES);
  const coap: CoapHeader = {
    version: first >> 6,
    type: (first >> 4) & 0x03,
    typeName: COAP_TYPE_NAMES[(first >> 4) & 0x03] ?? "?",
    tokenLength,
    code,
    codeText: `${code >> 5}.${String(code & 0x1f).padStart(2, "0")}`,
    messageId: view.getUint16(2),
    token: hex(bytes.subarray(COAP_HEADER_BYTES, COAP_HEADER_BYTES + tokenBytes)),
  };
  const packet: WirePacket = {
    messageBytes: bytes.length,
    coap,
    options: [],
    uri: "",
    contentFormat: null,
    payloadBytes: 0,
    blocks: [],
    trailingBytes: 0,
    problems,
  };
  if (tokenLength > COAP_TOKEN_BYTES_MAX) {
    problems.push(`token length ${tokenLength} is reserved (at most ${COAP_TOKEN_BYTES_MAX}); the rest is not parsed`);
    packet.trailingBytes = bytes.length - COAP_HEADER_BYTES;
    return { ok: true, packet };
  }
  if (tokenBytes < tokenLength) {
    problems.push(`token of ${tokenLength} bytes runs past the end of the message`);
    return { ok: true, packet };
  }
  let at = COAP_HEADER_BYTES + tokenLength;
  const uri: string[] = [];
  let optionNumber = 0;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  // Each pass consumes at least one byte or ends the loop.
  while (at < bytes.length) {
    const byte = view.getUint8(at);
    if (byte === COAP_PAYLOAD_MARKER) break;
    let delta = byte >> 4;
    let length = byte & 0x0f;
    let p = at + 1;
    const extended = (nibble: number): number | null => {
      if (nibble === 13) {
        if (p + 1 > bytes.length) return null;
        return 13 + view.getUint8(p++);
      }
      if (nibble === 14) {
        if (p + 2 > bytes.length) return null;
        const v = 269 + view.getUint16(p);
        p += 2;
        return v;
      }
      return nibble;
    };
    if (delta === 15 || length === 15) {
      problems.push(`option at byte ${at}: nibble 15 is reserved; the rest is not parsed`);
      packet.trailingBytes = bytes.length - at;
      return { ok: true, packet };
    }
    const d = extended(delta);
    const l = d === null ? null : extended(length);
    if (d === null || l === null || p + l > bytes.length) {
      problems.push(`option at byte ${at} runs past the end of the message`);
      packet.trailingBytes = bytes.length - at;
      return { ok: true, packet };
    }
    delta = d;
    length = l;
    optionNumber += delta;
    const raw = bytes.subarray(p, p + length);
    let value: string | number;
    if (UINT_OPTIONS.has(optionNumber) && length <= 4) {
      value = 0;
      for (const b of raw) value = value * 256 + b;
    } else if (STRING_OPTIONS.has(optionNumber)) {
      value = decoder.decode(raw);
    } else {
      value = hex(raw);
    }
    packet.options.push({
      number: optionNumber,
      name: OPTION_NAMES.get(optionNumber) ?? `option ${optionNumber}`,
      value,
    });
    if (optionNumber === COAP_OPTION_URI_PATH) uri.push(String(value));
    if (optionNumber === COAP_OPTION_CONTENT_FORMAT && typeof value === "number") packet.contentFormat = value;
    at = p + length;
  }
  packet.uri = uri.join("/");
  if (at >= bytes.length) return { ok: true, packet };
  // The payload marker.
  at++;
  packet.payloadBytes = bytes.length - at;
  if (packet.payloadBytes === 0) problems.push("payload marker without a payload");
  // Each pass consumes a whole block or ends the loop.
  while (bytes.length - at >= BLOCK_HEADER_BYTES) {
    const block = blockDecode(view, at);
    packet.blocks.push(block);
    const end = at + BLOCK_HEADER_BYTES + block.payloadBytes;
    if (end > bytes.length) {
      packet.trailingBytes = bytes.length - at - BLOCK_HEADER_BYTES;
      at = bytes.length;
      break;
    }
    at = end;
  }
  if (at < bytes.length) {
    packet.trailingBytes = bytes.length - at;
    problems.push(
      `${packet.trailingBytes} trailing bytes after the last block (a block header is ${BLOCK_HEADER_BYTES})`,
    );
  }
  return { ok: true, packet };
}

function blockDecode(view: DataView, at: number): WireBlock {
  const serial = view.getUint32(at);
  const sensor = view.getUint32(at + 4);
  const bits = view.getUint32(at + 8);
  const type = bits & 0x3f;
  const dataType = (bits >>> 6) & 0x03;
  const payloadBytes = (bits >>> 8) & 0x3ff;
  const isFlag = type === BLOCK_TYPE_FLAG_CONTROL_SENSOR;
  const sampleCount = isFlag ? 1 : (bits >>> 18) & 0xff;
  const block: WireBlock = {
    offset: at,
    type,
    typeName: blockTypeName(type),
    serial,
    sensor,
    sensorName: INTERNAL_SENSOR_NAMES.get(sensor) ?? null,
    dataType,
    dataTypeName: WIRE_DATA_TYPE_NAMES[dataType] ?? "?",
    payloadBytes,
    sampleCount,
    timeUnit: null,
    rate: null,
    samples: [],
    problem: null,
  };
  if (isFlag) {
    block.warningLevel = (bits >>> 18) & 0x07;
    block.errorCode = (bits >>> 21) & 0xff;
  }
  const start = at + BLOCK_HEADER_BYTES;
  const available = Math.max(0, Math.min(payloadBytes, view.byteLength - start));
  if (available < payloadBytes)
    block.problem = `payload of ${payloadBytes} bytes runs past the end of the message (${available} left)`;
  const short = (need: number): void => {
    block.problem ??= `payload of ${payloadBytes} bytes does not hold ${sampleCount} samples (${need} bytes)`;
  };
  switch (type) {
    case BLOCK_TYPE_CONTROL:
    case BLOCK_TYPE_SENSOR: {
      // u32 UTC seconds of the last sample, u16 rate in seconds, u32 per sample.
      block.timeUnit = "s";
      const need = 6 + SAMPLE_VALUE_BYTES * sampleCount;
      if (payloadBytes !== need) short(need);
      if (available < 6) break;
      const last = view.getUint32(start);
      const rate = view.getUint16(start + 4);
      block.rate = rate;
      const n = Math.min(sampleCount, Math.floor((available - 6) / SAMPLE_VALUE_BYTES));
      for (let i = 0; i < n; i++) {
        const time = last - (sampleCount - 1 - i) * rate;
        const value = wireValueFromBits(view.getUint32(start + 6 + SAMPLE_VALUE_BYTES * i), dataType);
        block.samples.push({ time, value, valid: wireTimeValid(time, "s") });
      }
      break;
    }
    case BLOCK_TYPE_EVENT_CONTROL:
    case BLOCK_TYPE_EVENT_SENSOR:
    case BLOCK_TYPE_FLAG_CONTROL_SENSOR: {
      block.timeUnit = "s";
      const need = EVENT_SAMPLE_BYTES * sampleCount;
      if (payloadBytes !== need) short(need);
      const n = Math.min(sampleCount, Math.floor(available / EVENT_SAMPLE_BYTES));
      for (let i = 0; i < n; i++) {
        const time = view.getUint32(start + EVENT_SAMPLE_BYTES * i);
        const value = wireValueFromBits(view.getUint32(start + EVENT_SAMPLE_BYTES * i + 4), dataType);
        block.samples.push({ time, value, valid: wireTimeValid(time, "s") });
      }
      break;
    }
    case BLOCK_TYPE_SENSOR_MS:
    case BLOCK_TYPE_CONTROL_MS: {
      block.timeUnit = "ms";
      const need = BLOCK_MS_PREFIX_BYTES + SAMPLE_VALUE_BYTES * sampleCount;
      if (payloadBytes !== need) short(need);
      if (available < BLOCK_MS_PREFIX_BYTES) break;
      const last = Number(view.getBigUint64(start));
      const rate = view.getUint32(start + 8);
      block.rate = rate;
      const n = Math.min(sampleCount, Math.floor((available - BLOCK_MS_PREFIX_BYTES) / SAMPLE_VALUE_BYTES));
      for (let i = 0; i < n; i++) {
        const time = last - (sampleCount - 1 - i) * rate;
        const value = wireValueFromBits(
          view.getUint32(start + BLOCK_MS_PREFIX_BYTES + SAMPLE_VALUE_BYTES * i),
          dataType,
        );
        block.samples.push({ time, value, valid: wireTimeValid(time, "ms") });
      }
      break;
    }
    case BLOCK_TYPE_EVENT_SENSOR_MS:
      block.problem ??= "EVENT_SENSOR_MS: layout not decoded; skipped";
      break;
    default:
      if (block.typeName.startsWith("UNKNOWN_")) block.problem ??= `unknown block type ${type}; skipped`;
  }
  return block;
}

/** Every `[XX]` on a line, as bytes; null when there is none. The rest of the line is ignored. */
export function hexLineBytes(line: string): Uint8Array | null {
  const bytes: number[] = [];
  for (const match of line.matchAll(/\[([0-9a-fA-F]{2})\]/g)) bytes.push(parseInt(match[1] ?? "0", 16));
  return bytes.length === 0 ? null : Uint8Array.from(bytes);
}

export interface WireDecodedRecord {
  source: number;
  sensor: number;
  /** The block's time in ms (seconds × 1000 for second blocks). */
  utcMs: number;
  value: number;
  blockType: number;
}

/** The stream records a packet carries, in message order; the upload source is the URI's last segment. */
export function wirePacketRecords(packet: WirePacket): WireDecodedRecord[] {
  const segments = packet.uri.split("/");
  const source = Number(segments[segments.length - 1] ?? "0");
  const out: WireDecodedRecord[] = [];
  for (const block of packet.blocks) {
    if (block.timeUnit === null || block.type === BLOCK_TYPE_FLAG_CONTROL_SENSOR) continue;
    const scale = block.timeUnit === "ms" ? 1 : 1000;
    for (const sample of block.samples)
      out.push({
        source,
        sensor: block.sensor,
        utcMs: sample.time * scale,
        value: sample.value,
        blockType: block.type,
      });
  }
  return out;
}
