/**
 * The elections a connection closes when it closes, held weakly.
 *
 * A connection must reach every election that holds something (a campaign,
 * a leadership, an observer) to end it on `close()`. It must not keep alive
 * one its caller has dropped with nothing running on it: a service that
 * reads `connection.election(name).leader()` per request would otherwise
 * keep every handle it ever made (some kilobytes each) until the connection
 * closes. What runs on an election keeps it reachable through what the
 * connection itself holds for it (a request in flight, a watch, the
 * session's timers), so only idle handles are ever collected.
 */
export class Handles<T extends object> {
  readonly #refs = new Set<WeakRef<T>>();
  readonly #of = new WeakMap<T, WeakRef<T>>();
  readonly #registry = new FinalizationRegistry<WeakRef<T>>((ref) => this.#refs.delete(ref));

  /** Holds `item` weakly. */
  add(item: T): void {
    const ref = new WeakRef(item);
    this.#refs.add(ref);
    this.#of.set(item, ref);
    this.#registry.register(item, ref, ref);
  }

  /** Lets go of `item` at once (it closed). */
  delete(item: T): void {
    const ref = this.#of.get(item);
    if (!ref) return;
    this.#refs.delete(ref);
    this.#of.delete(item);
    this.#registry.unregister(ref);
  }

  /** The items not yet collected nor let go of. */
  live(): T[] {
    return [...this.#refs].flatMap((ref) => ref.deref() ?? []);
  }
}
