// The worker thread of a DeviceWorker: boots one Device from the options in workerData, then runs
// the caller's calls on it one at a time, in the order they were sent (an async one, settle or
// close, finishes before the next starts), and sends back each result, each error, the device's
// events and its log lines (device-worker-protocol.ts). After "close" the thread lets go of its
// port and ends.
//
// Runs as compiled JavaScript (dist/host/core/device-thread.js): Node 20 cannot load TypeScript in
// a worker.

import { parentPort, workerData } from "node:worker_threads";
import type * as abi from "./abi.generated.js";
import { Device, type DeviceEventName, type DeviceListeners } from "./device.js";
import {
  type CallerMessage,
  type DeviceThreadOptions,
  type DeviceThreadState,
  type DeviceWorkerMethod,
  errorSend,
  type ThreadMessage,
} from "./device-worker-protocol.js";
import type { Logger } from "./log.js";

const port = parentPort;
if (port === null) throw new Error("device-thread.js runs only as a worker thread (new DeviceWorker)");

function post(message: ThreadMessage): void {
  port?.postMessage(message);
}

const EVENT_NAMES: readonly DeviceEventName[] = ["spill", "discard", "eviction", "quarantine", "cleanupComplete"];

function forwarders(): DeviceListeners {
  const on: DeviceListeners = {};
  for (const name of EVENT_NAMES) {
    (on as Record<DeviceEventName, (payload: unknown) => void>)[name] = (payload) => {
      post({ type: "event", name, payload } as ThreadMessage);
    };
  }
  return on;
}

function logForwarder(): Logger {
  const at =
    (level: abi.CoreLogLevel) =>
    (line: string): void => {
      post({ type: "log", level, line });
    };
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

function stateOf(device: Device): DeviceThreadState | null {
  if (device.closed) return null;
  return { tierState: device.tierState, utcAvailable: device.utcAvailable, utcHeldCount: device.utcHeldCount };
}

function boot(): Device | null {
  const { forwardLog, ...options } = workerData as DeviceThreadOptions;
  try {
    const device = Device.create({
      ...options,
      on: forwarders(),
      ...(forwardLog ? { logger: logForwarder() } : {}),
    });
    post({
      type: "ready",
      info: {
        ramBytes: device.ramBytes,
        hasDiskTier: device.hasDiskTier,
        bulkCapacity: device.bulkCapacity,
        layoutBytes: device.layoutBytes,
        recovery: device.recovery,
      },
    });
    return device;
  } catch (error) {
    post({ type: "bootFailed", error: errorSend(error) });
    return null;
  }
}

async function handle(device: Device, message: CallerMessage): Promise<void> {
  try {
    if (message.type === "close") {
      const value = await device.close(message.options);
      post({ type: "reply", id: message.id, value, state: null });
      port?.close();
      return;
    }
    const methods = device as unknown as Record<DeviceWorkerMethod, (this: Device, ...args: unknown[]) => unknown>;
    const value: unknown = await methods[message.method].apply(device, message.args);
    post({ type: "reply", id: message.id, value, state: stateOf(device) });
  } catch (error) {
    post({ type: "throw", id: message.id, error: errorSend(error), state: stateOf(device) });
  }
}

const device = boot();
if (device === null) {
  port.close();
} else {
  // One call at a time, in the order sent.
  let tail: Promise<void> = Promise.resolve();
  port.on("message", (message: CallerMessage) => {
    tail = tail.then(() => handle(device, message));
  });
}
