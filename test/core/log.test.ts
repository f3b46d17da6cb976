// The core's log events as text: every event the ABI defines has words of its own.

import { describe, expect, it } from "vitest";

import * as abi from "../../host/core/abi.generated.js";
import { CoreLogger, eventText } from "../../host/core/log.js";

const EVENTS: [string, number][] = [];
for (const [name, value] of Object.entries(abi) as [string, unknown][]) {
  if (name.startsWith("EVENT_") && typeof value === "number") EVENTS.push([name, value]);
}

describe("core log events", () => {
  it("the ABI defines events", () => {
    expect(EVENTS.length).toBeGreaterThanOrEqual(18);
  });

  it.each(EVENTS)("%s has a text, not its number", (_name, code) => {
    expect(eventText(code, 3, 7)).not.toMatch(/^event \d+ /);
  });

  it("an unknown event is shown by number", () => {
    expect(eventText(9999, 1, 2)).toBe("event 9999 (1, 2)");
  });

  it("the logger filters by level and prefixes the subsystem", () => {
    const lines: string[] = [];
    const logger = new CoreLogger("warn", (line) => lines.push(line));
    logger.event(abi.LOG_DEBUG, abi.SUBSYSTEM_TIER, abi.EVENT_SPILL, 0, 4);
    logger.event(abi.LOG_WARN, abi.SUBSYSTEM_TIER, abi.EVENT_FILE_DISCARDED, 2, 42);
    expect(lines).toEqual([
      "[imx:tier] disk full: deleted the oldest file of stream 2 to make room (42 records discarded)",
    ]);
  });
});
