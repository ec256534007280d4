export type {
  CampaignOptions,
  CandidateInfo,
  CandidateState,
  Election,
  ElectionEvent,
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
  InvalidOptionError,
  LeadershipLostError,
  NotLeaderError,
  SessionExpiredError,
  TimeoutError,
  abortReason,
  isElectError,
  type ElectErrorOptions,
  type LossReason,
} from './errors.js';
export { systemClock, type Clock } from './clock.js';
export { Backoff, pause, sleep, whenAborted, within, type BackoffOptions } from './wait.js';
export { LossDeadline, defaultSafetyMarginMs, type LossDeadlineOptions } from './deadline.js';
export { LeadershipHandle, type DeadlineView, type LeadershipBackend, type LeadershipInit } from './leadership.js';
export { decodePayload, encodePayload } from './payload.js';
export {
  campaignOptions,
  candidateId,
  candidateValue,
  clockOption,
  durationOption,
  isAbortSignal,
  knownKeys,
  readOptions,
  signalOption,
  textOption,
  type DurationRule,
} from './options.js';
export { StateMachine, candidateEdges, candidateStateMachine } from './state.js';
export { Channel, Hub, sameLeader, type ChannelOptions } from './stream.js';
export { LogEvent, silentLogger, type Logger } from './logger.js';
export {
  DEFAULT_SETTLE_TIMEOUT_MS,
  runWhileLeader,
  type LeaderTask,
  type RunWhileLeaderOptions,
} from './run-while-leader.js';
