/**
 * "Run once, run again if asked meanwhile": a task that must not overlap itself (a pump, a flush
 * of outcomes) and must not miss a request that came while it ran. Requests during a run coalesce
 * into one more run after it.
 */
export class Serial {
  #running = false;
  #again = false;

  /** `onError` hears what a run threw; the run ends there (a request made meanwhile still runs). */
  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Runs the task now, or once more after the run in progress. */
  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void this.#loop();
  }

  /** Whether a run is in progress. */
  get running(): boolean {
    return this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.task().catch(this.onError);
    } while (this.#again);
    this.#running = false;
  }
}
