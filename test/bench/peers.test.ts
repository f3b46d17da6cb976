// `imx-memsim bench --peers` runs the peer-outbox benchmark against SQLite (better-sqlite3), which is
// installed apart from the main package (`npm --prefix bench/peers ci`). Without it the command
// refuses before any work: one line that says how to install it, and exit 2. Asserts the refusal
// and the figures' shape, never times.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { PEERS_INSTALL, sqliteLoad } from "../../host/bench/peer-outbox.js";
import { runBench } from "../../host/bench/suite.js";
import { packageRootDir } from "../../host/boards.js";
import { cliWith } from "../run/helpers.js";

const empty = fs.mkdtempSync(path.join(os.tmpdir(), "imx-peers-missing-"));
afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

function installed(): boolean {
  try {
    sqliteLoad();
    return true;
  } catch {
    return false;
  }
}

describe("bench --peers", () => {
  it("without the peers installed: one line saying how to install them, exit 2, nothing run", async () => {
    const cli = path.join(packageRootDir(), "dist", "host", "cli", "main.js");
    const child = spawn(process.execPath, [cli, "bench", "--peers", "--quick", "--only", "append"], {
      cwd: packageRootDir(),
      env: { ...process.env, IMX_MEMSIM_PEERS_DIR: empty },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const result = await cliWith(child, 60_000);
    const output = result.stdout + result.stderr;
    expect(output).toMatch(/^imx-memsim: [^\n]*\n$/);
    expect(output).toContain(PEERS_INSTALL);
    expect(result.code, output).toBe(2);
  });

  it.skipIf(!installed())(
    "with better-sqlite3 installed: SQLite's iteration and ACK, and imx-memsim's ratios against them (skipped when bench/peers is not installed)",
    async () => {
      const report = await runBench({ quick: true, peers: true, only: ["durability"] });
      const bench = report.benchmarks.find((b) => b.name === "peer-outbox");
      expect(bench?.error).toBeUndefined();
      const ids = bench?.figures.map((f) => f.id);
      expect(ids).toEqual([
        "peer-outbox.sqlite.iteration",
        "peer-outbox.sqlite.ack",
        "peer-outbox.imx-memsim.iteration",
        "peer-outbox.imx-memsim.ack",
      ]);
      for (const f of bench?.figures.slice(2) ?? []) {
        expect(f.ratio, f.id).toBeGreaterThan(0);
        expect(typeof f.targets?.[0]?.met, f.id).toBe("boolean");
      }
      expect(bench?.counters.recordsPerIteration).toBe(600);
    },
    120_000,
  );
});
