// Graceful stop for long-running commands, as on the device: on SIGTERM or SIGINT, the command
// stops its main loop and flushes everything to disk with shutdownFlush (host/core/flush.ts: until
// the flush reports 101, "safe to power off", or a deadline passes), then exits. A second signal
// exits at once (128 + signal number) without waiting.
//
//   const stop = stopSignalsListen();              // before the main loop
//   while (!stop.requested) { ... }                // the loop polls; it must yield to the event loop
//   const flush = await shutdownFlush(device, { nowMs, deadlineMs: SHUTDOWN_DEADLINE_MS_DEFAULT });
//   stop.release();

import { constants } from "node:os";

const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"];

export interface StopSignals {
  /** True once a stop signal arrived. */
  readonly requested: boolean;
  /** The first signal, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Resolves with the first signal. */
  readonly received: Promise<NodeJS.Signals>;
  /** Asks for a stop without a signal (e.g. a worker told to stop). */
  request(reason: NodeJS.Signals): void;
  /** Removes the handlers. */
  release(): void;
}

export interface StopSignalsOptions {
  signals?: readonly NodeJS.Signals[];
  /** Called on the first signal (e.g. to print "stopping: flushing to disk"). */
  onFirst?: (signal: NodeJS.Signals) => void;
  /** Called on a second signal; by default prints a line and exits with 128 + the signal's number. */
  onSecond?: (signal: NodeJS.Signals) => void;
}

export function signalExitCode(signal: NodeJS.Signals): number {
  // Not every signal has a number on every platform.
  const numbers: Partial<Record<NodeJS.Signals, number>> = constants.signals;
  return 128 + (numbers[signal] ?? 15);
}

/** Installs SIGTERM/SIGINT handlers that turn the first signal into a stop request. */
export function stopSignalsListen(options: StopSignalsOptions = {}): StopSignals {
  const signals = options.signals ?? STOP_SIGNALS;
  let first: NodeJS.Signals | null = null;
  let resolveReceived: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    resolveReceived = resolve;
  });
  const onSecond =
    options.onSecond ??
    ((signal: NodeJS.Signals) => {
      process.stderr.write(`imx-memsim: second ${signal}: exiting now, without waiting for the flush\n`);
      process.exit(signalExitCode(signal));
    });
  const handler = (signal: NodeJS.Signals): void => {
    if (first !== null) {
      onSecond(signal);
      return;
    }
    first = signal;
    options.onFirst?.(signal);
    resolveReceived(signal);
  };
  for (const signal of signals) process.on(signal, handler);
  return {
    get requested() {
      return first !== null;
    },
    get signal() {
      return first;
    },
    received,
    request(reason: NodeJS.Signals) {
      if (first === null) handler(reason);
    },
    release() {
      for (const signal of signals) process.off(signal, handler);
    },
  };
}
