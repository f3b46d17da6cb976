// A flag that takes one value may be given once. Commander keeps the last of repeated values
// without a word, so `--duration 7d … --duration 1h` would run for an hour; every such option of
// every command gets a parser that refuses a second occurrence. Repeatable flags (--tsd, --outage,
// …) collect their values with their own parser and are left alone, as are flags without a value.

import type { Command } from "commander";
import { UsageError } from "../base/user-error.js";

export function singleValuedFlagsEnforce(command: Command): void {
  for (const option of command.options) {
    const takesValue = option.required || option.optional;
    if (!takesValue || option.variadic || option.parseArg !== undefined) continue;
    const key = option.attributeName();
    const flag = option.long ?? option.short ?? option.flags;
    option.argParser((value: string): string => {
      if (command.getOptionValueSource(key) === "cli") {
        const previous = command.getOptionValue(key) as unknown;
        throw new UsageError(`${flag} was given twice ("${String(previous)}", then "${value}"); it takes one value`);
      }
      return value;
    });
  }
  for (const sub of command.commands) singleValuedFlagsEnforce(sub);
}
