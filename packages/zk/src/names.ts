/**
 * Election names and the znode layout, shared with Apache Curator's
 * LeaderLatch so that JVM and Node candidates can join one election:
 *
 *     <latch path>/_c_<uuid>-latch-<10-digit sequence>      (EPHEMERAL_SEQUENTIAL)
 *
 * `_c_<uuid>-` is Curator's "protected" prefix: it lets a create whose reply
 * was lost be found again. `latch-` is LeaderLatch's node name. Order is by
 * the sequence suffix alone (what follows the last `latch-`): the uuid
 * prefixes differ, so sorting whole names would be wrong.
 *
 * A priority election (see core's priority.ts) tags each entry and adds two
 * nodes beside them, neither of which is a latch node:
 *
 *     <latch path>/_c_<uuid>-prio-<n>[-preempt]-latch-<sequence>  (EPHEMERAL_SEQUENTIAL)
 *     <latch path>/leader      the record: who leads                (EPHEMERAL)
 *     <latch path>/handover    a handover asked for by election.handover()  (EPHEMERAL: the asker's)
 *
 * A child named `leader` or `handover` is one of these only when it is
 * ephemeral and its data decodes as one: an election may nest another one
 * under that name (`<latch path>/leader` as a persistent latch path), and a
 * plain election with such a neighbour stays a plain election.
 */
import { InvalidOptionError } from '@elect/core';
import { parsePriorityTag, type QueueEntry } from '@elect/core/backend';

/** Where bare names live: `billing` is the latch path `/elect/billing`. */
export const defaultRoot = '/elect';

const lockName = 'latch-';

/**
 * Characters ZooKeeper refuses in a path (PathUtils.validatePath): NUL,
 * control characters, and a few Unicode ranges that do not display well.
 */
// eslint-disable-next-line no-control-regex
const badCharacters = /[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/;

/** Throws `InvalidOptionError(option)` unless `path` is an absolute ZooKeeper path other than `/`. */
export function validatePath(option: string, path: string): void {
  const fail = (why: string): never => {
    throw new InvalidOptionError(option, `${JSON.stringify(path)} is not a valid ZooKeeper path: ${why}`);
  };
  if (!path.startsWith('/')) fail('it must start with "/"');
  if (path === '/') fail('the root cannot be an election');
  if (path.endsWith('/')) fail('it must not end with "/"');
  if (path.includes('//')) fail('it must not contain an empty segment ("//")');
  for (const segment of path.slice(1).split('/')) {
    if (segment === '.' || segment === '..') fail('"." and ".." segments are not allowed');
  }
  if (badCharacters.test(path)) fail('it contains a character ZooKeeper does not allow');
  if (path === '/zookeeper' || path.startsWith('/zookeeper/')) fail('/zookeeper is reserved by the server');
}

/**
 * The latch path for an election name: an absolute name is the path itself;
 * a relative one (`billing`, `team/billing`) lives under `/elect`.
 */
export function latchPath(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidOptionError('name', 'must be a non-empty string (a latch path like /services/x/leader, or a bare name)');
  }
  const path = name.startsWith('/') ? name : `${defaultRoot}/${name}`;
  validatePath('name', path);
  return path;
}

/** The ancestors of `path` from the top down, without `/` itself: `/a/b/c` → `/a`, `/a/b`. */
export function ancestors(path: string): string[] {
  const parts = path.split('/').slice(1, -1);
  return parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

/** The record's node name, under the latch path. */
export const recordName = 'leader';

/** The handover request's node name, under the latch path. */
export const requestName = 'handover';

/**
 * A priority election keeps the children `leader` and `handover` of its
 * latch path for the record and the handover request; a persistent node
 * there is a nested election's latch path (`<name>/leader`), and a priority
 * campaign or handover would wait on it, or remove it, forever. Refused.
 */
export function nestedInTheWay(name: string, child: string): InvalidOptionError {
  return new InvalidOptionError(
    'priority',
    `election ${JSON.stringify(name)} cannot hold a priority election: ${JSON.stringify(`${name}/${child}`)} is a nested election, and a priority election keeps its ${JSON.stringify(child)} node for the ${child === recordName ? 'record of who leads' : 'handover request'}; rename one of them, or campaign without a priority`,
  );
}

/** The name prefix of a candidate node before the server appends the sequence; `tag` for a priority entry. */
export function protectedPrefix(uuid: string, tag?: string): string {
  return `_c_${uuid}-${tag === undefined ? '' : `${tag}-`}${lockName}`;
}

/** A latch node as a queue entry (core's `QueueEntry`), keyed by its child name. */
export interface Entry extends QueueEntry {
  /** Its path. */
  readonly path: string;
}

const taggedName = /^_c_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}-(.+)-$/;

/** The latch nodes among `children` as queue entries (plain ones without a priority), in no particular order. */
export function queueEntries(dir: string, children: readonly string[]): Entry[] {
  const entries: Entry[] = [];
  for (const child of children) {
    const sequence = sequenceOf(child);
    if (sequence === undefined) continue;
    // The tag sits between the protected prefix and `latch-`; Curator's own nodes have none.
    const tag = taggedName.exec(child.slice(0, child.length - sequence.length - lockName.length))?.[1];
    const rank = tag === undefined ? undefined : parsePriorityTag(tag);
    entries.push({ key: child, path: join(dir, child), priority: rank?.priority, preempt: rank?.preempt ?? false, order: BigInt(sequence) });
  }
  return entries;
}

/** A priority election: a tagged entry is among `entries`, or the record exists (`hasRecord`: a `leader` child that is one). */
export function isPriorityLayout(hasRecord: boolean, entries: readonly Entry[]): boolean {
  return hasRecord || entries.some((entry) => entry.priority !== undefined);
}

/** A node of ours beside the entries (record, handover request): ephemeral, unlike a nested election's latch path. */
export function isEphemeral(stat: { ephemeralOwner: Buffer }): boolean {
  return stat.ephemeralOwner.some((byte) => byte !== 0);
}

/** The sort key of a child (its sequence suffix), or undefined when it is not a latch node. */
export function sequenceOf(child: string): string | undefined {
  const at = child.lastIndexOf(lockName);
  if (at < 0) return undefined;
  const suffix = child.slice(at + lockName.length);
  return /^-?\d+$/.test(suffix) ? suffix : undefined;
}

/** The latch nodes among `children`, in election order (first leads). Other children are ignored. */
export function electionOrder(children: readonly string[]): string[] {
  return children
    .map((child) => ({ child, key: sequenceOf(child) }))
    .filter((entry): entry is { child: string; key: string } => entry.key !== undefined)
    .sort((a, b) => compareSequence(a.key, b.key) || (a.child < b.child ? -1 : a.child > b.child ? 1 : 0))
    .map((entry) => entry.child);
}

function compareSequence(a: string, b: string): number {
  // Zero-padded to 10 digits, so string order is numeric order — as Curator
  // compares them. Numbers keep it right if a server ever pads differently.
  const x = Number(a);
  const y = Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** `dir/child`. */
export function join(dir: string, child: string): string {
  return `${dir}/${child}`;
}
