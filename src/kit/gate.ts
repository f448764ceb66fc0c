/**
 * A gate for expensive request work: it runs `width` at a time and lets the event loop turn between
 * one and the next, so cheap requests (health checks, new orders) are read and answered in between
 * instead of queueing behind hundreds of expensive ones: without it, a flood of 500-order listings
 * kept `/health` waiting behind all of them (figures: docs/PERFORMANCE.md, "Listing flood").
 */
export class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly width: number) {}

  /** Runs `work` when a place is free; the place is handed on only after the loop has turned. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.width) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      setImmediate(() => this.handOn());
    }
  }

  private handOn(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
