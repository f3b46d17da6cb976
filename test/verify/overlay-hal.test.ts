// The overlay verify runs boot recovery on shows every write, rename and removal recovery makes,
// and never changes its base.

import { describe, expect, it } from "vitest";
import { MemoryHal } from "../../host/hal/memory.js";
import { OverlayHal } from "../../host/verify/overlay-hal.js";
import { bytes, codeOf, text } from "../hal/hal-conformance.js";

describe("OverlayHal over a base with files", () => {
  function base(): MemoryHal {
    const hal = new MemoryHal();
    hal.mkdir("history/3");
    hal.writeFile("history/3/a.imx", bytes("alpha"));
    hal.writeFile("history/3/b.imx.tmp", bytes("half"));
    return hal;
  }

  it("shows renames, removals and new directories while the base keeps every byte", () => {
    const under = base();
    const before = under.snapshot();
    const hal = new OverlayHal(under);
    hal.mkdir("corrupted");
    hal.rename("history/3/a.imx", "corrupted/history_3_a.imx");
    hal.remove("history/3/b.imx.tmp");
    hal.writeFile("history/3/c.imx", bytes("gamma"));
    hal.appendFile("history/3/c.imx", bytes("!"));
    expect(hal.list(".")).toEqual(["corrupted", "history"]);
    expect(hal.list("history/3")).toEqual(["c.imx"]);
    expect(text(hal.readFile("corrupted/history_3_a.imx"))).toBe("alpha");
    expect(text(hal.readFile("history/3/c.imx"))).toBe("gamma!");
    expect(hal.fileSize("history/3/c.imx")).toBe(6);
    expect(hal.exists("history/3/a.imx")).toBe(false);
    expect(codeOf(() => hal.readFile("history/3/b.imx.tmp"))).toBe("ENOENT");
    expect(codeOf(() => hal.remove("history/3/a.imx"))).toBe("ENOENT");
    const into = new Uint8Array(3);
    expect(hal.readFileInto("corrupted/history_3_a.imx", into)).toBe(3);
    expect(text(into)).toBe("alp");
    expect(codeOf(() => hal.writeFile("history/9/x.imx", bytes("x")))).toBe("ENOENT");
    expect(codeOf(() => hal.readFile("history/3/c.imx/x"))).toBe("ENOTDIR");
    expect(hal.stats().filesCreated).toBe(1);
    expect(hal.stats().filesRemoved).toBe(1);
    expect(under.snapshot()).toEqual(before);
  });
});
