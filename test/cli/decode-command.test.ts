// `imx-memsim decode` as a user runs it (the compiled CLI in a child process):
// - the hand-made dump of the captured device packet prints every block with its samples, and
//   --json writes them in the shape, in message order;
// - a file mixing good messages, a truncated one and lines without hex decodes the good ones,
//   reports the bad line, and exits 0;
// - a file with no hex, or only undecodable hex, is one `imx-memsim: …` line and exit 2;
// - messages the encoder wrote, as a device log, decode to their records.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deviceLogLine, wireEncode } from "../../host/format/imatrix-wire.js";
import { cli, ROOT } from "../run/helpers.js";

const root = mkdtempSync(join(tmpdir(), "imx-memsim-decode-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FIXTURE = join(ROOT, "test", "fixtures", "imatrix-captured-packet.txt");

interface JsonOut {
  packets: Array<{
    line: number;
    coap: { version: number; type: string; code: string; messageId: number; token: string };
    uri: string;
    blocks: Array<{
      type: string;
      serial: number;
      sensor: number;
      dataType: string;
      samples: Array<{ time: number; value: number; invalid?: boolean }>;
    }>;
    trailingBytes: number;
  }>;
  errors: Array<{ line: number; error: string }>;
}

describe("imx-memsim decode", () => {
  it("prints every block of the captured packet with its samples; --json in message order", async () => {
    const out = join(root, "captured.json");
    const r = await cli(["decode", FIXTURE, "--json", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CoAP version 0, type ACK, code 0\.22, message id 37423 \(0x922f\), token 5ac107e3/);
    expect(r.stdout).toMatch(/uri selfreport\/250007060\/0513973109\/0/);
    expect(r.stdout.match(/^ {2}block \d+/gm)).toHaveLength(10);
    expect(r.stdout.match(/invalid: outside 2000–2100/g)).toHaveLength(120);
    expect(r.stdout).toMatch(/sensor 2 \(GPS_Latitude\), float32, 240 payload bytes, 30 samples/);
    expect(r.stdout).toMatch(/decoded 1 messages, 10 blocks/);
    const json = JSON.parse(readFileSync(out, "utf8")) as JsonOut;
    expect(json.packets).toHaveLength(1);
    const p = json.packets[0];
    expect(p?.coap).toEqual({ version: 0, type: "ACK", code: "0.22", messageId: 0x922f, token: "5ac107e3" });
    expect(p?.uri).toBe("selfreport/250007060/0513973109/0");
    expect(p?.blocks.map((b) => `${b.type}:${b.sensor}:${b.samples.length}`)).toEqual([
      "EVENT_SENSOR:2:30",
      "EVENT_SENSOR:3:30",
      "EVENT_SENSOR:4:30",
      "EVENT_SENSOR:142:30",
      "SENSOR_MS:29:3",
      "SENSOR_MS:43:3",
      "SENSOR_MS:44:3",
      "SENSOR_MS:45:3",
      "SENSOR_MS:46:3",
      "SENSOR_MS:65:3",
    ]);
    expect(p?.blocks[0]).toMatchObject({ serial: 513973109, dataType: "float32" });
    expect(p?.blocks[0]?.samples[0]).toEqual({ time: 240118400, value: Math.fround(37.3318), invalid: true });
    expect(p?.blocks[4]?.samples).toEqual([
      { time: Date.UTC(2025, 0, 10, 0, 0, 10), value: -71 },
      { time: Date.UTC(2025, 0, 10, 0, 0, 20), value: -72 },
      { time: Date.UTC(2025, 0, 10, 0, 0, 30), value: -70 },
    ]);
  });

  it("decodes the good lines, reports a bad one per line, and exits 0", async () => {
    const messages = wireEncode({ manufacturerId: 250007060, serial: 7, source: 3 }, [
      {
        stream: { sensor: 1006, role: "control", type: "evt", dataType: "uint32", sampleRateMs: 0 },
        records: [
          { utcMs: Date.UTC(2025, 0, 10, 1, 2, 3, 456), value: 1 },
          { utcMs: Date.UTC(2025, 0, 10, 1, 2, 4, 999), value: 0 },
        ],
      },
    ]);
    const file = join(root, "mixed.txt");
    writeFileSync(
      file,
      [
        "boot",
        `[00:00:01.000] ${deviceLogLine(messages[0] ?? new Uint8Array())}`,
        "[00:00:01.100] UPLOAD Message DATA as hex:   [44][02]",
        "[00:00:02.000] UPLOAD Response 2.04",
        readFileSync(FIXTURE, "utf8"),
      ].join("\n"),
    );
    const out = join(root, "mixed.json");
    const r = await cli(["decode", file, "--json", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/line 3: cannot decode: truncated CoAP header: 2 bytes/);
    expect(r.stdout).toMatch(/decoded 2 messages, 11 blocks; 1 lines could not be decoded/);
    const json = JSON.parse(readFileSync(out, "utf8")) as JsonOut;
    expect(json.packets.map((p) => p.line)).toEqual([2, 6]);
    expect(json.errors).toEqual([{ line: 3, error: "truncated CoAP header: 2 bytes, a header is 4" }]);
    expect(json.packets[0]?.coap).toMatchObject({ version: 1, type: "CON", code: "0.02" });
    expect(json.packets[0]?.uri).toBe("selfreport/250007060/0000000007/3");
    expect(json.packets[0]?.blocks).toEqual([
      {
        type: "EVENT_CONTROL",
        serial: 7,
        sensor: 1006,
        dataType: "uint32",
        payloadBytes: 16,
        samples: [
          { time: Date.UTC(2025, 0, 10, 1, 2, 3) / 1000, value: 1 },
          { time: Date.UTC(2025, 0, 10, 1, 2, 4) / 1000, value: 0 },
        ],
      },
    ]);
  });

  it("exits 2 with one line when nothing could be decoded", async () => {
    const none = join(root, "none.txt");
    writeFileSync(none, "no hex here\n[00:00:01] still none [zz]\n");
    const a = await cli(["decode", none]);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe(`imx-memsim: ${none}: no line holds bracketed hex bytes ([XX])\n`);
    const short = join(root, "short.txt");
    writeFileSync(short, "[44]\n[44][02][00]\n");
    const b = await cli(["decode", short]);
    expect(b.code).toBe(2);
    expect(b.stdout).toMatch(/line 1: cannot decode/);
    expect(b.stderr).toBe(`imx-memsim: ${short}: none of the 2 lines with hex bytes could be decoded\n`);
    const missing = await cli(["decode", join(root, "missing.txt")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^imx-memsim: cannot read .*missing\.txt/);
  });

  it("has --help text", async () => {
    const r = await cli(["decode", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--json <file>/);
    expect(r.stdout).toMatch(/Exit status/);
  });
});
