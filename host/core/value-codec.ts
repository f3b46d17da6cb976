// The value codec: how a record's number becomes the 32-bit word the core stores, and back, under
// the stream's data type; and the ABI codes of the record and data types, both ways.

import * as abi from "./abi.generated.js";
import { CoreError } from "./errors.js";

// Record and data types: the tables in assembly/abi.ts.
/** A stream's record type: "tsd" (time-series data at a fixed sample rate) or "evt" (events, each timed). */
export type RecordType = abi.RecordType;
/** How a record's 32-bit value word is read back: "uint32", "int32" or "float32". */
export type DataType = abi.DataType;

// Partial: a JavaScript caller is not held to the RecordType and DataType unions.
export const RECORD_TYPE_CODES: Readonly<Partial<Record<RecordType, number>>> = abi.RECORD_TYPE_CODES;
export const DATA_TYPE_CODES: Readonly<Partial<Record<DataType, number>>> = abi.DATA_TYPE_CODES;

/** The record type an ABI code names, or null. */
export function recordTypeOf(code: number): RecordType | null {
  return abi.RECORD_TYPE_BY_CODE[code] ?? null;
}

/** The data type an ABI code names, or null. */
export function dataTypeOf(code: number): DataType | null {
  return abi.DATA_TYPE_BY_CODE[code] ?? null;
}

const float32Scratch = new Float32Array(1);
const uint32Scratch = new Uint32Array(float32Scratch.buffer);

/** The 32-bit word stored for `value` under `dataType`; throws E_INVALID_ARGUMENT for a value that has none. */
export function valueToBits(value: number, dataType: DataType): number {
  switch (dataType) {
    case "float32":
      if (typeof value !== "number")
        throw new CoreError(abi.E_INVALID_ARGUMENT, `float32 value must be a number (got ${String(value)})`);
      float32Scratch[0] = value;
      return uint32Scratch[0] ?? 0;
    case "int32":
      if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
        throw new CoreError(abi.E_INVALID_ARGUMENT, `int32 value out of range: ${value}`);
      }
      return value >>> 0;
    case "uint32":
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new CoreError(abi.E_INVALID_ARGUMENT, `uint32 value out of range: ${value}`);
      }
      return value;
  }
}

/** The value a stored 32-bit word reads back as under `dataType`. */
export function bitsToValue(bits: number, dataType: DataType): number {
  switch (dataType) {
    case "float32":
      uint32Scratch[0] = bits;
      return float32Scratch[0] ?? 0;
    case "int32":
      return bits | 0;
    case "uint32":
      return bits >>> 0;
  }
}
