// `imx-memsim verify` through the compiled CLI, on storages `run` made: exit 0 and a stable JSON
// shape on a clean one, 1 with one line per finding on a damaged one, and 2 with one line and
// nothing changed for bad input (no such directory, not a storage, a --json path that cannot be
// written, --repair on a storage a live process holds). Read-only verify works while `run` is
// using the storage.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMX_SUFFIX } from "../../host/format/imx.js";
import { listFilesRecursive } from "../../host/hal/atomic.js";
import { NodeFsHal } from "../../host/hal/node-fs.js";
import { LOCK_FILE } from "../../host/run/storage.js";
import { FINDING_CODES, type VerifyReport } from "../../host/verify/verify.js";
import { refused } from "../cli/helpers.js";
import { cli, snapshot, spawnCli } from "../run/helpers.js";

let root: string;
let storage: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "imx-verify-cli-"));
  storage = join(root, "st");
  const made = await cli([
    "run",
    "--storage",
    storage,
    "--board",
    "esp32",
    "--duration",
    "6h",
    "--speed",
    "max",
    "--outage",
    "5h at 0h",
    "--quiet",
  ]);
  expect(made.code, made.stderr).toBe(0);
}, 120_000);

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
});

function copy(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [path, content] of snapshot(storage)) {
    if (path.endsWith("/")) mkdirSync(join(dir, path), { recursive: true });
    else writeFileSync(join(dir, path), Buffer.from(content, "base64"));
  }
  return dir;
}

describe("imx-memsim verify", () => {
  it("exits 0 on a storage run left, with the report's stable shape in --json", async () => {
    const json = join(root, "clean.json");
    const result = await cli(["verify", "--storage", storage, "--json", json]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^verify storage .* \(board esp32, read-only\)\n/);
    expect(result.stdout).toMatch(/boot recovery adopts \d+ files? with \d[\d,]* records? in 12 streams\n/);
    expect(result.stdout).toMatch(/\nclean: no problems, 0 notes\n$/);
    const report = JSON.parse(readFileSync(json, "utf8")) as VerifyReport;
    expect(Object.keys(report)).toEqual([
      "format",
      "version",
      "storage",
      "dir",
      "board",
      "kind",
      "mode",
      "lock",
      "findings",
      "adopted",
      "remaining",
      "counts",
      "clean",
      "exitCode",
    ]);
    expect(report).toMatchObject({
      format: "imx-memsim-verify",
      version: 1,
      board: "esp32",
      kind: "device",
      mode: "read-only",
      lock: { state: "none" },
      findings: [],
      remaining: null,
      clean: true,
      exitCode: 0,
    });
    expect(Object.keys(report.adopted)).toEqual(["files", "records", "streams", "recordsLostRamMax", "cleanupQueued"]);
  });

  it("exits 1 with one line per finding, and --repair exits 0 once the storage is clean", async () => {
    const dir = copy("damaged");
    const [first, second] = listFilesRecursive(new NodeFsHal(dir), "history", IMX_SUFFIX);
    expect(second).toBeDefined();
    const data = readFileSync(join(dir, first as string));
    data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0x40;
    writeFileSync(join(dir, first as string), data);
    writeFileSync(join(dir, `${second as string}.tmp`), "half");
    writeFileSync(join(dir, LOCK_FILE), "999999999\n");
    const json = join(root, "damaged.json");
    const result = await cli(["verify", "--storage", dir, "--json", json]);
    expect(result.code, result.stdout + result.stderr).toBe(1);
    const lines = result.stdout.split("\n");
    expect(lines).toContain(
      `  problem  ${first as string}: damaged (E_IMX_CRC: its CRC does not match its bytes); boot recovery quarantines it to corrupted/${(first as string).replace(/\//g, "_")}`,
    );
    expect(lines).toContain(
      `  problem  ${second as string}.tmp: a temp file of a write that never reached its rename; boot recovery removes it`,
    );
    expect(lines.some((line) => /^ {2}note {5}imx-memsim\.lock: a stale lock \(/.test(line))).toBe(true);
    expect(result.stdout).toMatch(
      /\n2 problems \(2 repairable: verify --repair does what boot recovery would\), 1 note\n$/,
    );
    const report = JSON.parse(readFileSync(json, "utf8")) as VerifyReport;
    expect(report.findings.map((f) => f.code)).toEqual(["lock.stale", "imx.refused", "tmp.orphan"]);
    for (const f of report.findings) {
      expect(FINDING_CODES).toContain(f.code);
      expect(Object.keys(f)).toEqual(["code", "severity", "path", "message", "action", "to", "repaired"]);
    }
    expect(report.counts).toEqual({ problems: 2, notes: 1, repairable: 2, repaired: 0, remainingProblems: 2 });

    const repaired = await cli(["verify", "--storage", dir, "--repair"]);
    expect(repaired.code, repaired.stdout + repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain(`  repaired ${first as string}: damaged (E_IMX_CRC`);
    expect(repaired.stdout).toMatch(/\n2 problems found, 2 repaired; the storage is clean now, 1 note\n$/);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    const again = await cli(["verify", "--storage", dir]);
    expect(again.code, again.stdout).toBe(0);
  });

  it("refuses bad input in one line, exit 2, changing nothing", async () => {
    const empty = join(root, "empty");
    mkdirSync(empty, { recursive: true });
    await refused(["verify", "--storage", join(root, "missing")], /storage .*missing does not exist/);
    await refused(["verify", "--storage", empty], /is not an imx-memsim storage/);
    await refused(["verify"], /verify needs --storage <dir>/);
    const before = snapshot(storage);
    await refused(
      ["verify", "--storage", storage, "--json", join(root, "no-such-dir", "v.json")],
      /--json .*does not exist/,
    );
    await refused(["verify", "--storage", storage, "--json", join(storage, "v.json")], /is inside the storage/);
    await refused(["verify", "--storage", storage, "--board", "tiny"], /was written by board esp32, not tiny/);
    expect(snapshot(storage)).toEqual(before);
  });

  it("refuses --repair while a live process holds the storage's lock, and checks read-only meanwhile", async () => {
    const dir = copy("held");
    writeFileSync(join(dir, `${listFilesRecursive(new NodeFsHal(dir), "history", IMX_SUFFIX)[0] as string}.tmp`), "x");
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    children.push(holder);
    writeFileSync(
      join(dir, LOCK_FILE),
      `${JSON.stringify({ format: "imx-memsim-lock", version: 1, pid: holder.pid })}\n`,
    );
    const before = snapshot(dir);
    await refused(
      ["verify", "--storage", dir, "--repair"],
      /is in use by a live imx-memsim run \(pid \d+\); --repair needs it stopped/,
    );
    expect(snapshot(dir)).toEqual(before);
    const result = await cli(["verify", "--storage", dir]);
    // The temp file may be the live run's write in progress: a note, not a problem.
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/note {5}imx-memsim\.lock: in use by a live imx-memsim run \(pid \d+\)/);
    expect(result.stdout).toMatch(/note {5}history\/.*\.imx\.tmp: a temp file .* \(a run is using the storage/);
    expect(snapshot(dir)).toEqual(before);
    holder.kill("SIGKILL");
  });

  it("reads a storage while run is using it and finds no problem there", async () => {
    const dir = copy("running");
    const run = spawnCli(["run", "--storage", dir, "--board", "esp32", "--speed", "2000", "--quiet"]);
    children.push(run);
    for (let i = 0; i < 200 && !existsSync(join(dir, LOCK_FILE)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    const result = await cli(["verify", "--storage", dir, "--json", join(root, "running.json")]);
    expect(result.code, result.stdout + result.stderr).not.toBe(2);
    const report = JSON.parse(readFileSync(join(root, "running.json"), "utf8")) as VerifyReport;
    expect(report.lock.state).toBe("live");
    expect(report.findings.filter((f) => f.severity === "problem")).toEqual([]);
    expect(report.adopted.streams).toBe(12);
    const refusedRepair = await cli(["verify", "--storage", dir, "--repair"]);
    expect(refusedRepair.code).toBe(2);
    run.kill("SIGKILL");
  }, 60_000);
});
