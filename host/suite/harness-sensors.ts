// The original test harness's 8 sensors and 4 controls (reference section 6.1), with the value of
// each one's i-th sample: the streams that `imx-memsim demo` writes and the test command's harness
// sections check.

import type { DataType, RecordType } from "../core/device.js";

export interface HarnessSensor {
  name: string;
  sensor: number;
  type: RecordType;
  dataType: DataType;
  sampleRateMs: number;
  value(i: number): number;
}

/** The sensors and controls of the original test harness (reference section 6.1; sample rates in seconds there). */
export const HARNESS_SENSORS: readonly HarnessSensor[] = [
  {
    name: "Temperature",
    sensor: 1001,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 60_000,
    value: (i) => 25 + 5 * Math.sin(i / 10) + i * 0.01,
  },
  {
    name: "Pressure",
    sensor: 1002,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 30_000,
    value: (i) => 101.325 + 2 * Math.cos(i / 10) + i * 0.01,
  },
  {
    name: "Humidity",
    sensor: 1003,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 120_000,
    value: (i) => 40 + (i % 20) + i * 0.01,
  },
  {
    name: "Voltage",
    sensor: 1004,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 10_000,
    value: (i) => 12 + (i % 7) * 0.1,
  },
  {
    name: "Current",
    sensor: 1005,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 10_000,
    value: (i) => 1.5 + (i % 11) * 0.05,
  },
  { name: "Speed", sensor: 1006, type: "evt", dataType: "float32", sampleRateMs: 0, value: (i) => (i * 3.7) % 130 },
  {
    name: "Acceleration",
    sensor: 1007,
    type: "evt",
    dataType: "float32",
    sampleRateMs: 0,
    value: (i) => Math.sin(i) * 9.81,
  },
  {
    name: "GPS_Latitude",
    sensor: 1008,
    type: "tsd",
    dataType: "float32",
    sampleRateMs: 300_000,
    value: (i) => 37.33 + i * 1e-5,
  },
  { name: "Relay_1", sensor: 2001, type: "evt", dataType: "uint32", sampleRateMs: 0, value: (i) => i % 2 },
  { name: "PWM_Output", sensor: 2002, type: "evt", dataType: "float32", sampleRateMs: 0, value: (i) => (i * 10) % 100 },
  { name: "System_Mode", sensor: 2003, type: "evt", dataType: "uint32", sampleRateMs: 0, value: (i) => i % 3 },
  {
    name: "Enable_Flag",
    sensor: 2004,
    type: "evt",
    dataType: "uint32",
    sampleRateMs: 0,
    value: (i) => (i % 5 !== 0 ? 1 : 0),
  },
];
