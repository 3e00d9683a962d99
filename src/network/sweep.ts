/**
 * What keeps the hosts true to the database by a sweep (NatSync, CrossHostRouting): `syncAll` run
 * once at start and then every `sweepMs` (0: only once), on a timer that never keeps the process alive.
 */
export abstract class Swept {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sweepMs: number) {}

  abstract syncAll(): Promise<void>;

  start(): void {
    void this.syncAll();
    if (this.sweepMs > 0 && !this.timer) {
      this.timer = setInterval(() => void this.syncAll(), this.sweepMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
