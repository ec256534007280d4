/**
 * `@elect/core/backend`: what a backend is built from. Users of an election
 * need none of it (they import `@elect/core`); the ZooKeeper and etcd
 * backends, the in-memory backend and any third backend share these, so that
 * each rule — the loss deadline, the states a candidate moves through, how
 * options are checked — exists once. (The waits on the injected clock,
 * `sleep`, `pause`, `within`, `Backoff`, are `@elect/core`'s: users' code
 * waits through them too.)
 */
export { LossDeadline, defaultSafetyMarginMs, safetyMarginFor, type LossDeadlineOptions } from './deadline.js';
export { LeadershipHandle, type DeadlineView, type LeadershipBackend, type LeadershipInit } from './leadership.js';
export { decodePayload, encodePayload } from './payload.js';
export {
  MAX_PRIORITY,
  campaignOptions,
  handoverOptions,
  priorityOptions,
  type CampaignRequest,
  candidateId,
  candidateValue,
  clockOption,
  durationOption,
  isAbortSignal,
  knownKeys,
  loggerOption,
  readOptions,
  requestTimeouts,
  sessionSettings,
  signalOption,
  type SessionSettings,
  textOption,
  type DurationRule,
} from './options.js';
export { StateMachine, candidateEdges, candidateStateMachine } from './state.js';
export { Channel, Hub, sameLeader, type ChannelOptions } from './stream.js';
export { ElectionEvents, transitionEvent, type LeaderReadings } from './events.js';
export { Handles } from './handles.js';
export { linkSignals } from './wait.js';
export { LogEvent } from './logger.js';
export { Liveness, followSession, type LivenessOptions, type SessionEnd, type SessionStatus } from './liveness.js';
export { telemetryOption } from './telemetry.js';
export { SessionSlot, type SessionSlotOptions, type SlotSession } from './slot.js';
export { withCampaign } from './with-campaign.js';
export {
  behind,
  candidateOrder,
  decodeRecord,
  decodeRequest,
  encodeRecord,
  encodeRequest,
  handedOver,
  noneWaiting,
  handoverTarget,
  mixedLayout,
  parsePriorityTag,
  preemptor,
  priorityOrder,
  priorityStep,
  priorityTag,
  recordHolder,
  takenOver,
  waitOrder,
  type Passage,
  type HandoverRequest,
  type LeaderRecord,
  type QueueEntry,
  type Step,
} from './priority.js';
