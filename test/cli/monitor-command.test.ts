// `imx-memsim monitor`: one look at a storage shows its data, journal, temporary and corrupted
// files, the buckets, the newest files and a per-sensor histogram; it changes nothing in the
// storage; --json is one object per look; bad input is one line and exit 2.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../host/base/user-error.js";
import { monitorCommandRun, monitorLook, type MonitorReport } from "../../host/cli/monitor-command.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "imx-monitor-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function put(relative: string, bytes: number): void {
  fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
  fs.writeFileSync(path.join(root, relative), Buffer.alloc(bytes));
}

put("history/3/1_2_00000000000000000000.imx", 100);
put("history/3/1_2_00000000000000000040.imx", 300);
put("history/7/1_5_00000000000000000007.imx", 200);
put("history/7/1_5_00000000000000000009.imx.tmp", 10);
put("history/positions.imxp", 64);
put("corrupted/history_3_9_9_00000000000000000001.imx", 50);

function tree(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((p) => `${p}:${fs.statSync(path.join(dir, p)).size}`)
    .sort();
}

describe("monitor", () => {
  it("counts what the storage holds", () => {
    const report = monitorLook(root);
    expect(report.files).toEqual({
      data: 3,
      journal: 1,
      temporary: 1,
      corrupted: 1,
      dataBytes: 600,
      averageBytes: 200,
    });
    expect(report.buckets).toEqual([0, 0, 0, 2, 0, 0, 0, 1, 0, 0]);
    expect(report.sensors).toEqual([
      { source: 1, sensor: 2, files: 2 },
      { source: 1, sensor: 5, files: 1 },
    ]);
    expect(report.sensorsSampled).toBe(false);
    expect(report.seqRange).toEqual({ first: 0, last: 40 });
    expect(report.newest).toHaveLength(3);
    expect(report.disk?.level).toMatch(/green|yellow|red/);
  });

  it("--once prints the view and changes nothing; --json is one object", async () => {
    const before = tree(root);
    let text = "";
    const io = { out: (t: string) => void (text += t), tty: false, sleep: () => Promise.resolve(false) };
    await monitorCommandRun({ storage: root, once: true }, io);
    expect(text).toMatch(/^files {8}3 data \(\.imx, .*\), 1 journal .*1 temporary, 1 corrupted$/m);
    expect(text).toMatch(/^buckets {6}0:0 {2}1:0 {2}2:0 {2}3:2/m);
    expect(text).toMatch(/history\/3\/1_2_00000000000000000040\.imx/);
    text = "";
    await monitorCommandRun({ storage: root, once: true, json: true }, io);
    const report = JSON.parse(text) as MonitorReport;
    expect(report.files.data).toBe(3);
    expect(tree(root)).toEqual(before);
  });

  it("repeats every interval until stopped", async () => {
    let looks = 0;
    const waits: number[] = [];
    await monitorCommandRun(
      { storage: root, interval: "1", json: true },
      {
        out: () => {
          looks++;
        },
        tty: false,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve(waits.length < 3);
        },
      },
    );
    expect(looks).toBe(3);
    expect(waits).toEqual([1000, 1000, 1000]);
  });

  it.each([
    [{}, /monitor needs --storage DIR/],
    [{ storage: path.join(root, "absent"), once: true }, /does not exist/],
    [{ storage: path.join(root, "history/positions.imxp"), once: true }, /is not a directory/],
    [{ storage: root, interval: "0" }, /--interval must be seconds from 0.1/],
    [{ storage: root, interval: "soon" }, /--interval must be a duration/],
  ])("refuses %j", async (options, message) => {
    const io = { out: () => {}, tty: false, sleep: () => Promise.resolve(false) };
    await expect(monitorCommandRun(options, io)).rejects.toThrow(UsageError);
    await expect(monitorCommandRun(options, io)).rejects.toThrow(message);
  });
});
