// HalWrapper passes every call to the Hal it wraps, freeBytes() included, so it passes the shared
// conformance suite over a MemoryHal with a capacity, and the wrapped Hal's counters count the
// calls. NoSyncHal (the test job's wrapper) answers freeBytes() from the filesystem it wraps too.

import { describe, expect, it } from "vitest";
import { HalWrapper } from "../../host/hal/hal-wrapper.js";
import { MemoryHal } from "../../host/hal/memory.js";
import { NoSyncHal } from "../../host/suite/no-sync-hal.js";
import { codeOf, halConformanceSuite } from "./hal-conformance.js";

halConformanceSuite("HalWrapper over a MemoryHal with a capacity", () => ({
  hal: new HalWrapper(new MemoryHal({ capacityBytes: 64 << 20 }), "wrapped(memory)"),
  cleanup: () => {},
}));

describe("wrappers and free space", () => {
  it("HalWrapper passes freeBytes() and ENOSPC through, counted by the wrapped Hal", () => {
    const inner = new MemoryHal({ capacityBytes: 100 });
    const hal = new HalWrapper(inner, "wrapped(memory)");
    hal.writeFile("a", new Uint8Array(70));
    expect(hal.freeBytes()).toBe(30);
    expect(codeOf(() => hal.writeFile("b", new Uint8Array(40)))).toBe("ENOSPC");
    expect(hal.freeBytes()).toBe(0);
    expect(hal.stats().calls.freeBytes).toBe(2);
    expect(inner.stats().calls.freeBytes).toBe(2);
  });

  it("NoSyncHal reports the free space of the filesystem it wraps", () => {
    const hal = new NoSyncHal(new MemoryHal({ capacityBytes: 1000 }));
    hal.writeFile("a", new Uint8Array(250));
    expect(hal.freeBytes()).toBe(750);
    expect(new NoSyncHal(new MemoryHal()).freeBytes()).toBe(Infinity);
  });
});
