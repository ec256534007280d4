/**
 * `@elect/core`: the election contract as its users see it — `Election`,
 * `Leadership` with its fencing token and signal, the typed errors,
 * `runWhileLeader`. What backends are built from is in `@elect/core/backend`;
 * the in-memory backend for tests is `@elect/core/testing`.
 */
export type {
  CampaignOptions,
  CandidateInfo,
  CandidateState,
  Election,
  ElectionEvent,
  HandoverOptions,
  LeaderInfo,
  Leadership,
  SignalOptions,
} from './contract.js';
export {
  AbortError,
  BackendError,
  ClosedError,
  ConnectionError,
  ElectError,
  ErrorCode,
  HandoverFailedError,
  InvalidOptionError,
  LeadershipLostError,
  MixedLayoutError,
  NotLeaderError,
  PermissionDeniedError,
  SessionExpiredError,
  TimeoutError,
  abortReason,
  isElectError,
  type ElectErrorOptions,
  type LossReason,
} from './errors.js';
export { systemClock, type Clock } from './clock.js';
export { Backoff, pause, sleep, whenAborted, within, type BackoffOptions } from './wait.js';
export { silentLogger, type Logger } from './logger.js';
export type { SessionEnd, SessionStatus } from './liveness.js';
export type { SessionTelemetry } from './telemetry.js';
export {
  DEFAULT_SETTLE_TIMEOUT_MS,
  isCampaignTimeout,
  runWhileLeader,
  type LeaderTask,
  type RunWhileLeaderOptions,
} from './run-while-leader.js';
