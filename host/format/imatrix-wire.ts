// The iMatrix upload wire format, encoder side: the records of one upload cycle as the CoAP
// messages an iMatrix device POSTs (SPEC.md §9; the facts are in the iMatrix client's CoAP packet
// printer). Pure code: bytes in, bytes out, no I/O.
//
// A message, as this encoder writes it:
//
//   offset  size  field
//   0       1     version 1 (bits 7–6), type CON = 0 (bits 5–4), token length 4 (bits 3–0): 0x44
//   1       1     code 0.02 POST
//   2       2     message id, big-endian
//   4       4     token
//   8       …     Uri-Path options (number 11, then deltas of 0): "selfreport", the manufacturer id,
//                 the device serial as 10 digits, the upload source
//   …       1     payload marker 0xFF
//   …       …     blocks, each a 12-byte header and its payload (below); ≤ 1024 bytes in all,
//                 the whole message ≤ 1152 bytes
//
// A block header is three big-endian u32 words: the device serial, the sensor (or control) id,
// and a bit field: block type in bits 0–5, data type in bits 6–7, payload bytes in bits 8–17,
// sample count in bits 18–25. TSD streams become SENSOR_MS / CONTROL_MS blocks (u64 UTC ms of
// the last sample, u32 rate in ms, one u32 value per sample); EVT streams become EVENT_SENSOR /
// EVENT_CONTROL blocks (u32 UTC seconds, u32 value per sample: the milliseconds of an event do
// not reach the cloud). A block holds at most 255 samples and 1023 payload bytes; TSD samples of
// one block are evenly spaced at the stream's rate, so a gap in a stream's times starts a new
// block. A stream's records continue in the next block, and in the next message when this one
// is full.

// ---- CoAP (RFC 7252) ------------------------------------------------------------------------------

export const COAP_VERSION = 1;
export const COAP_TYPE_CON = 0;
export const COAP_TYPE_NAMES = ["CON", "NON", "ACK", "RST"] as const;
/** 0.02 POST. */
export const COAP_CODE_POST = 0x02;
export const COAP_HEADER_BYTES = 4;
export const COAP_TOKEN_BYTES_MAX = 8;
/** The token length the device uses. */
export const WIRE_TOKEN_BYTES = 4;
export const COAP_OPTION_URI_PATH = 11;
export const COAP_OPTION_CONTENT_FORMAT = 12;
export const COAP_PAYLOAD_MARKER = 0xff;
/** The first segment of the URI path of a device's sample upload. */
export const WIRE_URI_REPORT = "selfreport";
/** The device serial in the URI path is zero-padded to this many digits. */
export const WIRE_SERIAL_DIGITS = 10;

// ---- Limits ---------------------------------------------------------------------------------------

/** MAX_MSG_LENGTH: the whole CoAP message. */
export const WIRE_MESSAGE_BYTES_MAX = 1152;
/** MAX_PAYLOAD_LENGTH: the blocks after the payload marker. */
export const WIRE_PAYLOAD_BYTES_MAX = 1024;
export const BLOCK_HEADER_BYTES = 12;
/** The 10-bit payload length field. */
export const BLOCK_PAYLOAD_BYTES_MAX = 0x3ff;
/** The 8-bit sample count field. */
export const BLOCK_SAMPLES_MAX = 0xff;

export interface WireLimits {
  messageBytesMax: number;
  payloadBytesMax: number;
  blockPayloadBytesMax: number;
  blockSamplesMax: number;
}

export const WIRE_LIMITS: Readonly<WireLimits> = {
  messageBytesMax: WIRE_MESSAGE_BYTES_MAX,
  payloadBytesMax: WIRE_PAYLOAD_BYTES_MAX,
  blockPayloadBytesMax: BLOCK_PAYLOAD_BYTES_MAX,
  blockSamplesMax: BLOCK_SAMPLES_MAX,
};

// ---- Blocks ---------------------------------------------------------------------------------------

export const BLOCK_TYPE_CONTROL = 0;
export const BLOCK_TYPE_SENSOR = 1;
export const BLOCK_TYPE_EVENT_CONTROL = 10;
export const BLOCK_TYPE_EVENT_SENSOR = 11;
export const BLOCK_TYPE_SENSOR_MS = 12;
export const BLOCK_TYPE_EVENT_SENSOR_MS = 13;
export const BLOCK_TYPE_FLAG_CONTROL_SENSOR = 14;
export const BLOCK_TYPE_CONTROL_MS = 15;

/** Block type names by number (0 … 28). */
export const BLOCK_TYPE_NAMES: readonly string[] = [
  "CONTROL",
  "SENSOR",
  "MFG_UPDATE",
  "BLE_CLIENTS",
  "WIFI_RF_SCAN",
  "TRACEROUTE",
  "GPS_COORDINATES",
  "INDOOR_COORDINATES",
  "IPV4_DETAILS",
  "IPV6_DETAILS",
  "EVENT_CONTROL",
  "EVENT_SENSOR",
  "SENSOR_MS",
  "EVENT_SENSOR_MS",
  "FLAG_CONTROL_SENSOR",
  "CONTROL_MS",
  "FW_VERSION",
  "SSID",
  "BSSID",
  "CHANNEL",
  "SECURITY",
  "VARLENGTH",
  "CONFIG_SENSOR",
  "CONFIG_THING",
  "THING_STATUS",
  "HASH_HEADER",
  "CALIBRATION",
  "EVENT_VARIABLE",
  "VARIABLE_MS",
];

export function blockTypeName(type: number): string {
  return BLOCK_TYPE_NAMES[type] ?? `UNKNOWN_${type}`;
}

export const WIRE_DATA_TYPE_UINT32 = 0;
export const WIRE_DATA_TYPE_INT32 = 1;
export const WIRE_DATA_TYPE_FLOAT32 = 2;
export const WIRE_DATA_TYPE_VARIABLE = 3;
export const WIRE_DATA_TYPE_NAMES = ["uint32", "int32", "float32", "variable"] as const;
export type WireDataType = "uint32" | "int32" | "float32";

/** u64 UTC ms of the last sample + u32 rate in ms. */
export const BLOCK_MS_PREFIX_BYTES = 12;
export const SAMPLE_VALUE_BYTES = 4;
/** u32 UTC seconds + u32 value. */
export const EVENT_SAMPLE_BYTES = 8;

/** The internal sensors whose ids the iMatrix client fixes (a few). */
export const INTERNAL_SENSOR_NAMES: ReadonlyMap<number, string> = new Map([
  [2, "GPS_Latitude"],
  [3, "GPS_Longitude"],
  [4, "GPS_Altitude"],
  [25, "Battery_Level"],
  [28, "Boot_Count"],
  [29, "4G_RF_RSSI"],
  [43, "4G_BER"],
  [44, "HDOP"],
  [45, "Number_of_Satellites"],
  [46, "GPS_Fix_Quality"],
  [47, "GPS_Speed"],
  [58, "Fuel_Level"],
  [64, "Odometer"],
  [65, "ETH0_TX_Data_Rate"],
]);

// ---- Values ---------------------------------------------------------------------------------------

const F32 = new Float32Array(1);
const F32_BITS = new Uint32Array(F32.buffer);

/** The 32-bit word of a value of `dataType` (a float32 is its IEEE-754 bits). */
export function wireValueBits(value: number, dataType: WireDataType): number {
  if (dataType === "float32") {
    F32[0] = value;
    return F32_BITS[0] ?? 0;
  }
  if (!Number.isInteger(value)) throw new RangeError(`${dataType} value ${value} is not an integer`);
  if (dataType === "int32" ? value < -0x8000_0000 || value > 0x7fff_ffff : value < 0 || value > 0xffff_ffff)
    throw new RangeError(`value ${value} is out of range for ${dataType}`);
  return value >>> 0;
}

/** The value a 32-bit word holds for data type code 0 … 3 (variable length reads as uint32). */
export function wireValueFromBits(bits: number, dataTypeCode: number): number {
  if (dataTypeCode === WIRE_DATA_TYPE_FLOAT32) {
    F32_BITS[0] = bits;
    return F32[0] ?? 0;
  }
  return dataTypeCode === WIRE_DATA_TYPE_INT32 ? bits | 0 : bits >>> 0;
}

function dataTypeCode(dataType: WireDataType): number {
  return dataType === "float32"
    ? WIRE_DATA_TYPE_FLOAT32
    : dataType === "int32"
      ? WIRE_DATA_TYPE_INT32
      : WIRE_DATA_TYPE_UINT32;
}

// ---- The encoder ----------------------------------------------------------------------------------

export type WireRole = "sensor" | "control";

/** A stream as the wire sees it. */
export interface WireStream {
  sensor: number;
  role: WireRole;
  type: "tsd" | "evt";
  dataType: WireDataType;
  /** TSD: the stream's sample period; ignored for EVT. */
  sampleRateMs: number;
}

export interface WireRecord {
  utcMs: number;
  value: number;
}

/** Who sends: the URI path and the serial in every block header. */
export interface WireIdentity {
  manufacturerId: number;
  serial: number;
  source: number;
}

export interface WireMessageIds {
  messageId: number;
  /** The 4 token bytes as a u32. */
  token: number;
}

export function wireUri(identity: WireIdentity): string {
  return `${WIRE_URI_REPORT}/${identity.manufacturerId}/${String(identity.serial).padStart(WIRE_SERIAL_DIGITS, "0")}/${identity.source}`;
}

function u32Check(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff)
    throw new RangeError(`${what} ${value} is not a u32`);
}

/** Encodes one CoAP option header + value after `previous` (the last option number). */
function optionBytes(number: number, previous: number, value: Uint8Array): number[] {
  const out: number[] = [];
  const nibble = (n: number): number => (n < 13 ? n : n < 269 ? 13 : 14);
  const extended = (n: number): number[] => (n < 13 ? [] : n < 269 ? [n - 13] : [(n - 269) >> 8, (n - 269) & 0xff]);
  const delta = number - previous;
  out.push((nibble(delta) << 4) | nibble(value.length), ...extended(delta), ...extended(value.length), ...value);
  return out;
}

/** The bytes before the payload: CoAP header, token, Uri-Path options and the payload marker. */
export function wireMessageHead(identity: WireIdentity, ids: WireMessageIds): Uint8Array {
  u32Check(identity.manufacturerId, "manufacturer id");
  u32Check(identity.serial, "serial");
  u32Check(identity.source, "upload source");
  u32Check(ids.token, "token");
  const bytes: number[] = [
    (COAP_VERSION << 6) | (COAP_TYPE_CON << 4) | WIRE_TOKEN_BYTES,
    COAP_CODE_POST,
    (ids.messageId >> 8) & 0xff,
    ids.messageId & 0xff,
    (ids.token >>> 24) & 0xff,
    (ids.token >>> 16) & 0xff,
    (ids.token >>> 8) & 0xff,
    ids.token & 0xff,
  ];
  let previous = 0;
  const encoder = new TextEncoder();
  for (const segment of wireUri(identity).split("/")) {
    bytes.push(...optionBytes(COAP_OPTION_URI_PATH, previous, encoder.encode(segment)));
    previous = COAP_OPTION_URI_PATH;
  }
  bytes.push(COAP_PAYLOAD_MARKER);
  return Uint8Array.from(bytes);
}

function blockType(stream: WireStream): number {
  if (stream.type === "tsd") return stream.role === "control" ? BLOCK_TYPE_CONTROL_MS : BLOCK_TYPE_SENSOR_MS;
  return stream.role === "control" ? BLOCK_TYPE_EVENT_CONTROL : BLOCK_TYPE_EVENT_SENSOR;
}

/** Payload bytes of a block of `samples` samples of `stream`. */
export function blockPayloadBytes(stream: WireStream, samples: number): number {
  return stream.type === "tsd" ? BLOCK_MS_PREFIX_BYTES + SAMPLE_VALUE_BYTES * samples : EVENT_SAMPLE_BYTES * samples;
}

/** Samples of one block at most, by the block limits. */
export function blockSamplesMax(stream: WireStream, limits: WireLimits = WIRE_LIMITS): number {
  const prefix = stream.type === "tsd" ? BLOCK_MS_PREFIX_BYTES : 0;
  const each = stream.type === "tsd" ? SAMPLE_VALUE_BYTES : EVENT_SAMPLE_BYTES;
  return Math.min(limits.blockSamplesMax, Math.floor((limits.blockPayloadBytesMax - prefix) / each));
}

export interface BlockSpan {
  /** Index of the block's first record. */
  start: number;
  /** One past its last record. */
  end: number;
}

/**
 * How `records` (oldest first) split into blocks within `roomBytes` of payload: the blocks of the
 * longest prefix that fits. A TSD block ends where the next record is not one rate after the last.
 */
export function blockPlan(
  stream: WireStream,
  records: readonly WireRecord[],
  roomBytes: number,
  limits: WireLimits = WIRE_LIMITS,
): BlockSpan[] {
  const spans: BlockSpan[] = [];
  const perBlock = blockSamplesMax(stream, limits);
  let room = roomBytes;
  let i = 0;
  // Each pass takes at least one record or ends the loop.
  while (i < records.length) {
    const fitting = Math.min(
      perBlock,
      stream.type === "tsd"
        ? Math.floor((room - BLOCK_HEADER_BYTES - BLOCK_MS_PREFIX_BYTES) / SAMPLE_VALUE_BYTES)
        : Math.floor((room - BLOCK_HEADER_BYTES) / EVENT_SAMPLE_BYTES),
    );
    if (fitting < 1) break;
    let end = i + 1;
    while (end < records.length && end - i < fitting) {
      if (stream.type === "tsd") {
        const previous = records[end - 1];
        const next = records[end];
        if (previous === undefined || next === undefined || next.utcMs - previous.utcMs !== stream.sampleRateMs) break;
      }
      end++;
    }
    spans.push({ start: i, end });
    room -= BLOCK_HEADER_BYTES + blockPayloadBytes(stream, end - i);
    i = end;
  }
  return spans;
}

function blockBytes(stream: WireStream, serial: number, records: readonly WireRecord[]): Uint8Array {
  const n = records.length;
  const payload = blockPayloadBytes(stream, n);
  const out = new Uint8Array(BLOCK_HEADER_BYTES + payload);
  const view = new DataView(out.buffer);
  u32Check(stream.sensor, "sensor id");
  view.setUint32(0, serial);
  view.setUint32(4, stream.sensor);
  view.setUint32(8, ((n << 18) | (payload << 8) | (dataTypeCode(stream.dataType) << 6) | blockType(stream)) >>> 0);
  let at = BLOCK_HEADER_BYTES;
  if (stream.type === "tsd") {
    const last = records[n - 1]?.utcMs ?? 0;
    if (!Number.isSafeInteger(last) || last < 0) throw new RangeError(`TSD time ${last} ms is not a u64`);
    u32Check(stream.sampleRateMs, "sample rate (ms)");
    view.setBigUint64(at, BigInt(last));
    view.setUint32(at + 8, stream.sampleRateMs);
    at += BLOCK_MS_PREFIX_BYTES;
    for (const record of records) {
      view.setUint32(at, wireValueBits(record.value, stream.dataType));
      at += SAMPLE_VALUE_BYTES;
    }
  } else {
    for (const record of records) {
      const seconds = Math.floor(record.utcMs / 1000);
      u32Check(seconds, "event time (s)");
      view.setUint32(at, seconds);
      view.setUint32(at + 4, wireValueBits(record.value, stream.dataType));
      at += EVENT_SAMPLE_BYTES;
    }
  }
  return out;
}

/** One message being filled: blocks are added while they fit. */
export class WireMessageBuilder {
  readonly head: Uint8Array;
  private readonly blocks: Uint8Array[] = [];
  private payloadBytesUsed = 0;
  /** Records added, in order, per stream added. */
  readonly parts: Array<{ stream: WireStream; records: number }> = [];

  constructor(
    readonly identity: WireIdentity,
    ids: WireMessageIds,
    readonly limits: WireLimits = WIRE_LIMITS,
  ) {
    if (limits.blockSamplesMax > BLOCK_SAMPLES_MAX || limits.blockPayloadBytesMax > BLOCK_PAYLOAD_BYTES_MAX)
      throw new RangeError("block limits above the header's field widths (255 samples, 1023 bytes)");
    this.head = wireMessageHead(identity, ids);
  }

  /** Payload bytes still free, by both the payload and the message limit. */
  get roomBytes(): number {
    const payloadMax = Math.min(this.limits.payloadBytesMax, this.limits.messageBytesMax - this.head.length);
    return payloadMax - this.payloadBytesUsed;
  }

  get isEmpty(): boolean {
    return this.blocks.length === 0;
  }

  get records(): number {
    return this.parts.reduce((n, part) => n + part.records, 0);
  }

  /** How many of `records` (a prefix) would fit. Changes nothing. */
  fit(stream: WireStream, records: readonly WireRecord[]): number {
    const spans = blockPlan(stream, records, this.roomBytes, this.limits);
    return spans[spans.length - 1]?.end ?? 0;
  }

  /** Adds as many of `records` as fit, as blocks; returns how many. */
  add(stream: WireStream, records: readonly WireRecord[]): number {
    const spans = blockPlan(stream, records, this.roomBytes, this.limits);
    for (const span of spans) {
      const block = blockBytes(stream, this.identity.serial, records.slice(span.start, span.end));
      this.blocks.push(block);
      this.payloadBytesUsed += block.length;
    }
    const added = spans[spans.length - 1]?.end ?? 0;
    if (added > 0) this.parts.push({ stream, records: added });
    return added;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.head.length + this.payloadBytesUsed);
    out.set(this.head, 0);
    let at = this.head.length;
    for (const block of this.blocks) {
      out.set(block, at);
      at += block.length;
    }
    return out;
  }
}

export interface WireEncodeOptions {
  /** Message ids and tokens of the k-th message (default: id k, token k). */
  ids?: (k: number) => WireMessageIds;
  limits?: WireLimits;
}

/**
 * The messages of one upload cycle: the streams' records in order, each message filled as full
 * as it can be before the next one starts. Throws a RangeError for a value or time the wire
 * cannot carry, or limits too small for a single sample.
 */
export function wireEncode(
  identity: WireIdentity,
  streams: ReadonlyArray<{ stream: WireStream; records: readonly WireRecord[] }>,
  options: WireEncodeOptions = {},
): Uint8Array[] {
  const ids = options.ids ?? ((k: number) => ({ messageId: k & 0xffff, token: k >>> 0 }));
  const messages: Uint8Array[] = [];
  let builder = new WireMessageBuilder(identity, ids(0), options.limits);
  for (const { stream, records } of streams) {
    let rest = records;
    // Each pass adds at least one record, or closes a non-empty message (the next pass adds).
    while (rest.length > 0) {
      const added = builder.add(stream, rest);
      rest = rest.slice(added);
      if (rest.length === 0) break;
      if (builder.isEmpty) throw new RangeError("the wire limits leave no room for a single sample");
      messages.push(builder.bytes());
      builder = new WireMessageBuilder(identity, ids(messages.length), options.limits);
    }
  }
  if (!builder.isEmpty) messages.push(builder.bytes());
  return messages;
}

// ---- Device-log lines -----------------------------------------------------------------------------

export const DEVICE_LOG_PREFIX = "UPLOAD Message DATA as hex:   ";

/** A message as the device logs it: one line of bracketed hex bytes (without a newline). */
export function deviceLogLine(bytes: Uint8Array): string {
  let text = DEVICE_LOG_PREFIX;
  for (const byte of bytes) text += `[${byte.toString(16).padStart(2, "0")}]`;
  return text;
}
