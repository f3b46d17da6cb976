// Booting the core for a board: the device's RAM as a fixed WebAssembly.Memory (pages =
// ceil(ramBytes / 64 KiB), maximum = initial, so it never grows), the core instantiated through
// @assemblyscript/loader with the HAL bridge as its "hal" imports, the ABI version checked, the
// board's flashed config image written into RAM and `boot` called on it.

import * as loader from "@assemblyscript/loader";
import type { Board } from "../boards.js";
import { encodeConfigImage } from "../config-image.js";
import type { Hal } from "../hal/hal.js";
import * as abi from "./abi.generated.js";
import type { CoreExports } from "./core-exports.generated.js";
import { check, CoreAssertionError } from "./errors.js";
import { HalBridge } from "./hal-bridge.js";
import type { CoreLogger } from "./log.js";
import { type CoreBuild, coreModule } from "./wasm.js";

export const WASM_PAGE_BYTES = 65536;

export interface CoreBootOptions {
  board: Board;
  hal: Hal;
  logger: CoreLogger;
  nowMs?: number;
  build?: CoreBuild;
  /** A flashed image to boot from instead of encoding the board (tests of corrupt images). */
  configImage?: Uint8Array;
  /** Device RAM to continue from instead of booting (Device.restore); checked against the board. */
  snapshot?: Uint8Array;
}

/** A snapshot that cannot be taken now, or cannot be restored for this board. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

export interface BootedCore {
  memory: WebAssembly.Memory;
  exports: CoreExports;
  bridge: HalBridge;
}

/** Boots the core for `options.board`. Throws CoreError (E_CONFIG_*, E_LAYOUT_TOO_BIG, …) if it cannot. */
export function coreBoot(options: CoreBootOptions): BootedCore {
  const { board } = options;
  // The board's budget; after boot it is checked against what the flashed image says.
  const ramBytes = board.memory.ramBytes;
  const pages = Math.ceil(ramBytes / WASM_PAGE_BYTES);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const { snapshot } = options;
  if (snapshot !== undefined) {
    if (snapshot.length !== ramBytes) {
      throw new SnapshotError(
        `restore ${board.name}: the snapshot has ${snapshot.length} bytes, the board's RAM ${ramBytes}`,
      );
    }
    new Uint8Array(memory.buffer, 0, ramBytes).set(snapshot);
  }
  const bridge = new HalBridge(options.hal, options.logger);
  bridge.attach(memory);
  const imports = {
    env: {
      memory,
      abort: (msgPtr: number, filePtr: number, line: number, column: number) => {
        throw new CoreAssertionError(
          `core assertion failed: ${wasmString(memory, msgPtr)} at ${wasmString(memory, filePtr)}:${line}:${column}`,
        );
      },
    },
    hal: bridge.imports(),
  };
  const instance = loader.instantiateSync<Record<string, unknown>>(coreModule(options.build ?? "release"), imports);
  const exports = instance.exports as unknown as CoreExports;
  bridge.hooks = {
    confirmDelete: (slot, generation, status) => {
      // A confirmation for a file that forced cleanup already removed is stale: nothing to do.
      exports.cleanupConfirm(slot, generation, status);
    },
  };
  if (exports.abiVersion() !== abi.ABI_VERSION) {
    throw new Error(`core ABI version ${exports.abiVersion()} does not match the host's ${abi.ABI_VERSION}`);
  }

  const image = options.configImage ?? encodeConfigImage(board);
  const imagePtr = exports.configImagePtr();
  if (snapshot !== undefined) {
    snapshotCheck(board, snapshot, memory, imagePtr, exports, image);
    return { memory, exports, bridge };
  }
  const room = Math.min(image.length, memory.buffer.byteLength - imagePtr);
  new Uint8Array(memory.buffer, imagePtr, Math.max(0, room)).set(image.subarray(0, Math.max(0, room)));
  check(exports.boot(image.length, options.nowMs ?? 0), `boot ${board.name}`);
  if (exports.ramBytesConfigured() !== ramBytes) {
    throw new Error(
      `boot ${board.name}: the flashed image says ${exports.ramBytesConfigured()} RAM bytes, the board ${ramBytes}`,
    );
  }
  return { memory, exports, bridge };
}

// A snapshot holds the whole device: the module's static data (which instantiation has just written
// again), the core state block, the CRC table, the flashed config image and every region after it.
function snapshotCheck(
  board: Board,
  snapshot: Uint8Array,
  memory: WebAssembly.Memory,
  imagePtr: number,
  exports: CoreExports,
  image: Uint8Array,
): void {
  if (exports.ramBytesConfigured() === 0) {
    throw new SnapshotError(`restore ${board.name}: the snapshot is of a core that never booted`);
  }
  const staticBytes = imagePtr - abi.CRC_TABLE_BYTES - abi.CORE_STATE_BYTES;
  const staticNow = new Uint8Array(memory.buffer, 0, staticBytes);
  if (!staticNow.every((byte, i) => byte === snapshot[i])) {
    throw new SnapshotError(`restore ${board.name}: the snapshot was taken with another build of the core`);
  }
  const imageNow = new Uint8Array(memory.buffer, imagePtr, image.length);
  if (exports.ramBytesConfigured() !== board.memory.ramBytes || !imageNow.every((byte, i) => byte === image[i])) {
    throw new SnapshotError(`restore ${board.name}: the snapshot is of another board (its flashed config differs)`);
  }
}

/** An AssemblyScript string (UTF-16, its byte length in the 4 bytes before it) out of device RAM. */
function wasmString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "?";
  const buffer = memory.buffer;
  const length = new Uint32Array(buffer)[(ptr - 4) >>> 2] ?? 0;
  return Buffer.from(new Uint8Array(buffer, ptr, length)).toString("utf16le");
}
