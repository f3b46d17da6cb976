// `imx-memsim decode FILE [--json OUT]`: reads every line of FILE that holds bracketed hex bytes (a
// device log, a `run --packets` file, a pasted dump) as one iMatrix upload message and prints it:
// the CoAP header, the options, then each block with its samples (host/format/imatrix-decode.ts).
// What cannot be read is reported per line and the next line is read; the exit status is 2 only
// when nothing at all could be decoded.

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import {
  hexLineBytes,
  wireDecode,
  type WireBlock,
  type WirePacket,
  type WireSample,
} from "../format/imatrix-decode.js";
import { UsageError } from "../base/user-error.js";

export interface DecodeCommandOptions {
  json?: string;
}

export interface DecodedLine {
  line: number;
  packet: WirePacket;
}

export interface DecodeOutcome {
  decoded: DecodedLine[];
  errors: Array<{ line: number; error: string }>;
}

/** Reads every hex line of `text`; never throws. */
export function decodeText(text: string): DecodeOutcome {
  const outcome: DecodeOutcome = { decoded: [], errors: [] };
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const bytes = hexLineBytes(line);
    if (bytes === null) return;
    const result = wireDecode(bytes);
    if (result.ok) outcome.decoded.push({ line: i + 1, packet: result.packet });
    else outcome.errors.push({ line: i + 1, error: result.error });
  });
  return outcome;
}

function timeText(time: number, unit: "s" | "ms", valid: boolean): string {
  if (!valid) return `${time} ${unit} (invalid: outside 2000–2100)`;
  return new Date(unit === "s" ? time * 1000 : time).toISOString();
}

function blockText(block: WireBlock, index: number): string {
  const name = block.sensorName === null ? "" : ` (${block.sensorName})`;
  let text =
    `  block ${index + 1} at byte ${block.offset}: ${block.typeName} (type ${block.type}), serial ${block.serial}, ` +
    `sensor ${block.sensor}${name}, ${block.dataTypeName}, ${block.payloadBytes} payload bytes, ${block.sampleCount} samples` +
    (block.rate === null ? "" : `, rate ${block.rate} ${block.timeUnit ?? ""}`) +
    (block.warningLevel === undefined ? "" : `, warning level ${block.warningLevel}, error code ${block.errorCode}`) +
    "\n";
  if (block.problem !== null) text += `    problem: ${block.problem}\n`;
  const unit = block.timeUnit;
  if (unit !== null)
    for (const sample of block.samples) text += `    ${timeText(sample.time, unit, sample.valid)}  ${sample.value}\n`;
  return text;
}

export function packetText({ line, packet }: DecodedLine): string {
  const c = packet.coap;
  let text =
    `line ${line}: message of ${packet.messageBytes} bytes, payload ${packet.payloadBytes} bytes, ${packet.blocks.length} blocks\n` +
    `  CoAP version ${c.version}, type ${c.typeName}, code ${c.codeText}, message id ${c.messageId} (0x${c.messageId.toString(16).padStart(4, "0")}), ` +
    `token ${c.token === "" ? "(none)" : c.token} (${c.tokenLength} bytes)\n`;
  for (const option of packet.options)
    text += `  option ${option.name} (${option.number}): ${typeof option.value === "string" ? JSON.stringify(option.value) : option.value}\n`;
  if (packet.uri !== "") text += `  uri ${packet.uri}\n`;
  packet.blocks.forEach((block, i) => (text += blockText(block, i)));
  if (packet.trailingBytes > 0) text += `  ${packet.trailingBytes} bytes not parsed\n`;
  for (const problem of packet.problems) text += `  problem: ${problem}\n`;
  return text;
}

function sampleJson(sample: WireSample): Record<string, unknown> {
  return sample.valid
    ? { time: sample.time, value: sample.value }
    : { time: sample.time, value: sample.value, invalid: true };
}

/** The `--json` form: `{"packets": [{"coap": …, "uri": …, "blocks": [{"type": "EVENT_SENSOR", …}]}]}`. */
export function decodeJson(outcome: DecodeOutcome): Record<string, unknown> {
  return {
    packets: outcome.decoded.map(({ line, packet }) => ({
      line,
      bytes: packet.messageBytes,
      coap: {
        version: packet.coap.version,
        type: packet.coap.typeName,
        code: packet.coap.codeText,
        messageId: packet.coap.messageId,
        token: packet.coap.token,
      },
      options: packet.options.map((o) => ({ number: o.number, name: o.name, value: o.value })),
      uri: packet.uri,
      contentFormat: packet.contentFormat,
      payloadBytes: packet.payloadBytes,
      blocks: packet.blocks.map((b) => ({
        type: b.typeName,
        serial: b.serial,
        sensor: b.sensor,
        ...(b.sensorName === null ? {} : { name: b.sensorName }),
        dataType: b.dataTypeName,
        payloadBytes: b.payloadBytes,
        ...(b.rate === null ? {} : { rate: b.rate }),
        ...(b.problem === null ? {} : { problem: b.problem }),
        samples: b.samples.map(sampleJson),
      })),
      trailingBytes: packet.trailingBytes,
      problems: packet.problems,
    })),
    errors: outcome.errors,
  };
}

/** Runs the command; returns the outcome. Throws UsageError (exit 2) when nothing could be decoded. */
export function decodeCommand(file: string, options: DecodeCommandOptions, out: (text: string) => void): DecodeOutcome {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const outcome = decodeText(text);
  const errorsByLine = new Map(outcome.errors.map((e) => [e.line, e.error]));
  const reports: Array<[number, string]> = [
    ...outcome.decoded.map((d): [number, string] => [d.line, packetText(d)]),
    ...[...errorsByLine].map(([line, error]): [number, string] => [line, `line ${line}: cannot decode: ${error}\n`]),
  ];
  reports.sort((a, b) => a[0] - b[0]);
  for (const [, report] of reports) out(report);
  if (outcome.decoded.length === 0) {
    throw new UsageError(
      outcome.errors.length === 0
        ? `${file}: no line holds bracketed hex bytes ([XX])`
        : `${file}: none of the ${outcome.errors.length} lines with hex bytes could be decoded`,
    );
  }
  const blocks = outcome.decoded.reduce((n, d) => n + d.packet.blocks.length, 0);
  out(
    `decoded ${outcome.decoded.length} messages, ${blocks} blocks` +
      (outcome.errors.length > 0 ? `; ${outcome.errors.length} lines could not be decoded` : "") +
      "\n",
  );
  if (options.json !== undefined) {
    writeFileSync(options.json, `${JSON.stringify(decodeJson(outcome), null, 2)}\n`);
    out(`wrote ${options.json}\n`);
  }
  return outcome;
}

export function registerDecodeCommand(program: Command): void {
  program
    .command("decode")
    .description("decode iMatrix upload messages (CoAP + blocks) from a device log, a run --packets file or a dump")
    .argument("<file>", "a text file; every line with bracketed hex bytes ([XX][XX]…) is one message")
    .option("--json <file>", "write the decoded messages as JSON")
    .addHelpText(
      "after",
      `
Each line that holds bracketed hex bytes, e.g.
  [00:05:02.582] UPLOAD Message DATA as hex:   [44][02][00][01]…
is read as one message (every [XX] on the line, the rest ignored) and printed: the CoAP header
(version, type, code, message id, token), the options (URI path, content format), then each block
(type, serial, sensor id and internal sensor name, data type, payload length, samples with their
times and values). Times outside 2000–2100 are shown as invalid; malformed blocks and bytes after
the last block are reported and reading goes on. Sizes are not checked against the 1152/1024-byte
limits (captured device messages are larger). --json writes
  {"packets": [{"coap": {…}, "uri": "…", "blocks": [{"type": "EVENT_SENSOR", "serial": n,
   "sensor": n, "dataType": "float32", "samples": [{"time": n, "value": v}]}]}], "errors": [...]}
with times in seconds (ms for _MS blocks) and "invalid": true on samples outside 2000–2100.
Exit status: 0 when at least one message was decoded, 2 when none was (no hex, all truncated).`,
    )
    .action((file: string, options: DecodeCommandOptions) => {
      decodeCommand(file, options, (text) => process.stdout.write(text));
    });
}
