// The dashboard's server without a browser: `ui --trace` serves a finished trace as hello, history,
// frame and end; uPlot comes from node_modules; a request for another Host is refused (403); a
// trace has no run to control (409); control requests are parsed strictly.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { controlParse, DashboardServer } from "../../host/ui/server.js";
import { TraceSource } from "../../host/ui/trace-source.js";
import { CLI, ROOT } from "../run/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "imx-memsim-ui-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sseEvents(text: string): Array<{ event: string; data: unknown }> {
  return text
    .split("\n\n")
    .filter((block) => block.startsWith("event: "))
    .map((block) => {
      const [eventLine, dataLine] = block.split("\n");
      return { event: (eventLine ?? "").slice(7), data: JSON.parse((dataLine ?? "").slice(6)) as unknown };
    });
}

describe("the dashboard server", () => {
  it("serves a finished trace: hello, history, the last frame, end", async () => {
    const trace = join(dir, "t.ndjson");
    execFileSync(process.execPath, [CLI, "run", "--duration", "3h", "--speed", "max", "--quiet", "--trace", trace], {
      cwd: ROOT,
    });
    const server = await DashboardServer.start(0, new TraceSource(trace, loadBoard("fc1-imx6")), { live: false });
    try {
      server.end();
      const events = sseEvents(await (await fetch(`${server.url}events`)).text());
      expect(events.map((e) => e.event)).toEqual(["hello", "history", "frame", "end"]);
      const history = events[1]?.data as unknown[];
      expect(history.length).toBe(180);
      expect((events[2]?.data as { cells: unknown }).cells).toBeNull();
      const uplot = await fetch(`${server.url}uplot.js`);
      expect(uplot.status).toBe(200);
      expect((await uplot.text()).length).toBeGreaterThan(10_000);
      const control = await fetch(`${server.url}control`, { method: "POST", body: '{"action":"pause"}' });
      expect(control.status).toBe(409);
      const foreign = await new Promise<number>((resolve, reject) => {
        const request = httpRequest(
          { host: "127.0.0.1", port: server.port, path: "/events", headers: { Host: "example.com" } },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on("error", reject);
        request.end();
      });
      expect(foreign).toBe(403);
    } finally {
      await server.close();
    }
  });

  it("parses control requests strictly", () => {
    expect(controlParse('{"action":"pause"}')).toEqual({ action: "pause" });
    expect(controlParse('{"action":"speed","speed":250}')).toEqual({ action: "speed", speed: 250 });
    expect(controlParse('{"action":"speed","speed":"max"}')).toEqual({ action: "speed", speed: "max" });
    for (const bad of [
      '{"action":"speed","speed":0}',
      '{"action":"speed","speed":"fast"}',
      '{"action":"stop"}',
      "[]",
      "x",
    ])
      expect(controlParse(bad)).toBeNull();
  });
});
