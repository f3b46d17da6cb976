// The examples in examples/ run as a user would run them (node examples/<name>.mjs after a build,
// importing the package by its name): each starts its own stub server, drains an Outbox through
// it while the server refuses some batches, and prints a JSON summary whose inOrder is true only
// when the server got every record once, in order.

import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EXAMPLES = readdirSync(new URL("../examples/", import.meta.url)).filter((name) => name.endsWith(".mjs"));

describe("examples/", () => {
  test("holds the fetch and the MQTT-like senders", () => {
    expect(EXAMPLES.sort()).toEqual(["fetch-sender.mjs", "mqtt-sender.mjs"]);
  });

  test.each(EXAMPLES)("%s delivers every record once, in order, through a server that refuses some", async (name) => {
    const { stdout } = await promisify(execFile)(process.execPath, [`examples/${name}`], {
      cwd: ROOT,
      timeout: 30_000,
    });
    const summary = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { inOrder?: boolean; drains?: number };
    expect(summary.inOrder).toBe(true);
    // The server refused at least one batch, so more than one drain was needed.
    expect(summary.drains).toBeGreaterThan(1);
  });
});
