/**
 * The image domain's background work: uploads, snapshot copies and engine clean-ups, shared by
 * the services that start them, so that `idle()` (tests, shutdown) waits for all of them.
 */
export class ImageTasks {
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Counts `p` as in flight until it settles; returns it unchanged. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Resolves when nothing is in flight (work started meanwhile is waited for too). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
