// The --disk-full flag that goes with --policy: the board's disk-full policy, replaced for one run.

import { UsageError } from "../base/user-error.js";
import { type Board, diskFullPolicyChoices, isDiskFullPolicy, withOverrides } from "../boards.js";

export const DISK_FULL_OPTION_HELP = `disk-full policy: ${diskFullPolicyChoices()} (default: the board's)`;

/** Refuses a value that names no policy (exit 2); changes nothing. */
export function diskFullOptionCheck(value: string | undefined): void {
  if (value !== undefined && !isDiskFullPolicy(value)) {
    throw new UsageError(`--disk-full must be ${diskFullPolicyChoices()} (got "${value}")`);
  }
}

/** The board with --disk-full applied, if it was given. */
export function diskFullOptionApply(board: Board, value: string | undefined): Board {
  diskFullOptionCheck(value);
  return value !== undefined && isDiskFullPolicy(value) ? withOverrides(board, { diskFullPolicy: value }) : board;
}
