/**
 * `elect`'s exit codes. When the child ran, `elect` exits with the child's own
 * status (0–255, or 128 + n when signal n killed it), so our own codes are
 * chosen from ranges programs rarely use for themselves: sysexits(3) for the
 * classic failures, GNU `timeout`'s 124 for "waited too long", and the shell's
 * 126/127 for a command that cannot run. A child that exits with one of these
 * numbers on its own is indistinguishable from `elect` saying it: the log line
 * on stderr tells which.
 */
export const ExitCode = {
  /** The command ran and exited 0; or an inspection command succeeded. */
  Ok: 0,
  /** `elect leader`: the election has no leader right now (like grep's "no match"). */
  NoLeader: 1,
  /** `elect handover`: another candidate came to lead, not `--to` (it left before taking over, or a preemptor came first). */
  HandoverFailed: 1,
  /** Bad flags, bad environment variable, unknown backend, missing command (EX_USAGE). */
  Usage: 64,
  /** The backend could not be reached within the connect timeout (EX_UNAVAILABLE). */
  Unavailable: 69,
  /** A bug or an unexpected error inside `elect` (EX_SOFTWARE). */
  Internal: 70,
  /**
   * The backend refused an operation to our credentials: a ZooKeeper ACL or
   * etcd role that does not cover the election (EX_NOPERM). Nothing of it
   * was written; the command did not run (or not again).
   */
  NoPermission: 77,
  /**
   * Leadership was lost while the command ran, and `--rejoin` was not given
   * (EX_TEMPFAIL: running `elect` again is the cure). The command was stopped.
   */
  LeadershipLost: 75,
  /** `--wait` expired before this candidate became leader (as GNU `timeout`). */
  WaitExpired: 124,
  /** The command exists but cannot be executed (permissions, a directory, bad format). */
  NotExecutable: 126,
  /** The command was not found. */
  NotFound: 127,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The conventional status for "killed by signal n": 128 + n. */
export function signalExitCode(signalNumber: number): number {
  return 128 + signalNumber;
}
