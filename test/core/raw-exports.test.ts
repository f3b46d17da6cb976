// The core's exports used without the facade: before boot every export refuses with
// E_NOT_BOOTED, a second boot with E_ALREADY_BOOTED, and a memory smaller than the board's RAM with
// E_MEMORY_TOO_SMALL. Each instance comes from the same compiled module.

import { crc32 } from "node:zlib";
import * as loader from "@assemblyscript/loader";
import { describe, expect, test } from "vitest";
import { loadBoard } from "../../host/boards.js";
import { encodeConfigImage } from "../../host/config-image.js";
import * as abi from "../../host/core/abi.generated.js";
import type { CoreExports } from "../../host/core/core-exports.generated.js";
import { coreModule } from "../../host/core/wasm.js";

function instantiate(pages: number): { core: CoreExports; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const hal = {
    fileWrite: () => abi.OK,
    fileAppend: () => abi.OK,
    fileRead: () => abi.E_HAL_IO,
    fileDelete: () => abi.E_HAL_IO,
    fileDeleteDurable: () => abi.E_HAL_IO,
    fileDeleteAsync: () => abi.E_HAL_IO,
    fileQuarantine: () => abi.E_HAL_IO,
    diskFree: () => Infinity,
    crc32: (crc: number, ptr: number, length: number) => crc32(new Uint8Array(memory.buffer, ptr, length), crc >>> 0),
    log: () => undefined,
  };
  const { exports } = loader.instantiateSync(coreModule(), { env: { memory }, hal });
  return { core: exports as unknown as CoreExports, memory };
}

function flash(core: CoreExports, memory: WebAssembly.Memory, image: Uint8Array): void {
  new Uint8Array(memory.buffer, core.configImagePtr(), image.length).set(image);
}

describe("raw exports", () => {
  test("every export refuses with E_NOT_BOOTED before boot", () => {
    const { core } = instantiate(1);
    expect(core.abiVersion()).toBe(abi.ABI_VERSION);
    const calls: Array<() => number> = [
      () => core.statsRefresh(),
      () => core.sectorAlloc(),
      () => core.sectorFree(0),
      () => core.sectorWrite(0, 0, 1),
      () => core.sectorRead(0, 0),
      () => core.sectorLink(0, 1),
      () => core.sectorNext(0),
      () => core.ramSectorsWithData(),
      () => core.streamSectorsWithData(),
      () => core.streamConfigure(0, 1, abi.RECORD_TYPE_EVT, abi.DATA_TYPE_UINT32, 0),
      () => core.streamFind(0, 1),
      () => core.streamWriteTsd(0, 1, 0),
      () => core.streamWriteEvt(0, 1, 0),
      () => core.streamReadBulk(0, 1),
      () => core.streamPeek(0, 1),
      () => core.streamAck(0, 1),
      () => core.streamAckMany(0),
      () => core.streamRevert(0),
      () => core.streamQuery(0),
      () => core.processMemory(0),
      () => core.tierState(),
      () => core.flushAllToDisk(),
      () => core.flushProgress(),
      () => core.flushCancel(),
      () => core.cleanupComplete(),
      () => core.cleanupConfirm(0, 0, 0),
      () => core.cleanupForceAll(),
      () => core.pendingWorkCount(),
      () => core.cleanupPolicySet(0),
      () => core.diskUsageOffsetSet(0),
    ];
    for (const call of calls) expect(call()).toBe(abi.E_NOT_BOOTED);
    expect(core.statsPointer()).toBe(0);
    expect(core.bulkCapacity()).toBe(0);
  });

  test("boot twice is refused and changes nothing", () => {
    const board = loadBoard("tiny");
    const pages = Math.ceil(board.memory.ramBytes / 65536);
    const { core, memory } = instantiate(pages);
    flash(core, memory, encodeConfigImage(board));
    expect(core.boot(abi.CONFIG_IMAGE_BYTES, 0)).toBe(abi.OK);
    expect(core.streamConfigure(0, 1, abi.RECORD_TYPE_EVT, abi.DATA_TYPE_UINT32, 0)).toBe(0);
    expect(core.streamWriteEvt(0, 7, 1000)).toBe(abi.OK);
    expect(core.boot(abi.CONFIG_IMAGE_BYTES, 0)).toBe(abi.E_ALREADY_BOOTED);
    expect(core.streamReadBulk(0, 10)).toBe(1);
  });

  test("a memory smaller than the board's RAM is refused with E_MEMORY_TOO_SMALL", () => {
    const board = loadBoard("esp32");
    const { core, memory } = instantiate(1);
    // esp32's layout needs about 90 KB, so claim a RAM the layout fits but the 64 KiB memory does not hold.
    const image = encodeConfigImage({ ...board, memory: { ...board.memory, ramBytes: 2 * 65536 } });
    flash(core, memory, image);
    expect(core.boot(abi.CONFIG_IMAGE_BYTES, 0)).toBe(abi.E_MEMORY_TOO_SMALL);
    expect(core.statsPointer()).toBe(0);
  });
});
