/** The soak's parts, for its own tests and for anyone who wants to run it from code. */
export { check, table, type CheckInput, type FaultRecord, type Freeze, type KindSummary, type Overlap, type StaleWrite, type Verdict } from './checker.js';
export { FencedStore, StoreClient, now, type Term, type Write } from './store.js';
export { faultKinds, soak, type FaultKind, type Leftovers, type SoakOptions, type SoakResult } from './soak.js';
