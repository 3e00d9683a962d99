/**
 * Background work a service started and must see finished before shutdown (and tests) go on:
 * `track` counts a promise in, `idle` waits until none is left, including ones started meanwhile.
 */
export class Background {
  private readonly inflight = new Set<Promise<unknown>>();

  /** Counts a promise as background work; returns it unchanged. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Resolves when nothing tracked is in flight. */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}
