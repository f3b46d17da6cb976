// Typed errors for the core's negative status codes. Every code is defined once, in
// assembly/abi.ts; this module names them and says which operation returned one.

import * as abi from "./abi.generated.js";

const CODE_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(abi)) {
  if (name.startsWith("E_") && typeof value === "number") CODE_NAMES.set(value, name);
}

const CODE_MESSAGES: Record<string, string> = {
  E_INVALID_ARGUMENT: "invalid argument",
  E_NOT_BOOTED: "the device has not booted",
  E_ALREADY_BOOTED: "the device has already booted",
  E_CONFIG_MAGIC: "config image has the wrong magic number",
  E_CONFIG_VERSION: "config image has an unsupported layout version",
  E_CONFIG_CRC: "config image CRC does not match (corrupt image)",
  E_CONFIG_TRUNCATED: "config image is truncated",
  E_CONFIG_FIELD: "config image has a field out of range",
  E_LAYOUT_TOO_BIG: "the board's sectors, streams and files do not fit in its RAM",
  E_MEMORY_TOO_SMALL: "the wasm memory is smaller than the board's RAM",
  E_STREAM_TABLE_FULL: "the stream table is full",
  E_STREAM_UNKNOWN: "unknown stream",
  E_STREAM_CONFIG_MISMATCH: "stream is already configured with other settings",
  E_RECORD_TYPE_MISMATCH: "record type does not match the stream's type",
  E_SECTOR_INVALID: "invalid sector id",
  E_SECTOR_NOT_ALLOCATED: "sector is not allocated",
  E_SECTOR_LINKED: "sector is linked in a stream",
  E_OFFSET_INVALID: "offset is outside the sector or not word-aligned",
  E_OUT_OF_SECTORS: "no free sector",
  E_ALL_PENDING: "RAM is full and every sector holds pending data",
  E_ACK_TOO_MANY: "acknowledging more records than are pending",
  E_NO_DISK_TIER: "this board has no disk tier",
  E_DISK_QUOTA: "the disk tier is over its quota threshold",
  E_HAL_IO: "disk I/O error",
  E_FILE_TABLE_FULL: "the disk file table is full",
  E_FILE_CORRUPT: "an .imx file is corrupt or missing",
  E_HAL_NO_SPACE: "the disk is full",
  E_HAL_NOT_FOUND: "file not found",
  E_HAL_BUSY: "file is busy",
  E_HAL_PERMISSION: "permission denied",
  E_SECTOR_OWNED: "sector belongs to a stream, not to the raw sector API",
  E_TOKEN_UNKNOWN: "no deletion in flight for that slot",
  E_IMX_MAGIC: ".imx file has the wrong magic number",
  E_IMX_VERSION: ".imx file has an unsupported format version or header size",
  E_IMX_SIZE: ".imx file size does not match its header (truncated or extended)",
  E_IMX_CRC: ".imx file CRC does not match (corrupt)",
  E_IMX_COUNTS: ".imx file header has implausible counts or types",
  E_IMX_GEOMETRY: ".imx file was written with another sector size or file size limit",
  E_IMX_ORDER: ".imx file overlaps the sequence numbers of an earlier file",
  E_RECOVERY_CLOSED: "recovery is closed (the device is already in use)",
  E_ACK_PERSIST: "the ACK position could not be made durable; the ACK was not applied",
  E_POSITIONS_CORRUPT: "the positions file is corrupt",
  E_SEQ_RESERVE: "sequence numbers could not be reserved durably; the write was refused",
  E_DISK_FULL: "RAM is full, the disk tier cannot take more data and the disk-full policy is refuse-new",
};

/** The name of one of the core's error codes, e.g. errorCodeName(-12) is "E_STREAM_UNKNOWN" (CoreError.codeName). */
export function errorCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? `E_UNKNOWN(${code})`;
}

export function errorCodeMessage(code: number): string {
  return CODE_MESSAGES[errorCodeName(code)] ?? `error ${code}`;
}

/** A negative status code returned by the core, with the operation that returned it. */
export class CoreError extends Error {
  readonly codeName: string;
  constructor(
    readonly code: number,
    readonly operation: string,
  ) {
    super(`${operation}: ${errorCodeMessage(code)} (${errorCodeName(code)})`);
    this.name = "CoreError";
    this.codeName = errorCodeName(code);
  }
}

/** A failed assertion inside the core: a bug, never bad input. Stops the run and says where. */
export class CoreAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CoreAssertionError";
  }
}

/** Throws a CoreError when `status` is negative; returns it otherwise. */
export function check(status: number, operation: string): number {
  if (status < 0) throw new CoreError(status, operation);
  return status;
}

/** Every error code in assembly/abi.ts has a message here (checked at load). */
export function errorTableCheck(): void {
  for (let code = -1; code >= abi.ERROR_CODE_MIN; code--) {
    const name = CODE_NAMES.get(code);
    if (!name || !CODE_MESSAGES[name]) throw new Error(`error code ${code} has no name or message`);
  }
}

/**
 * A device used after close(): every method (and the raw exports) throws this, naming the board,
 * the storage and the call. A bug in the caller, not bad input.
 */
export class DeviceClosedError extends Error {
  constructor(
    readonly operation: string,
    where: string,
  ) {
    super(`the device (${where}) was used after close() (${operation})`);
    this.name = "DeviceClosedError";
  }
}
