/**
 * The sender's outcome records: the outcomes of attempts ending together are recorded in one call,
 * one call at a time (a Serial). A failed call keeps them (their leases are still renewed by the
 * sender) for another try shortly; each recorded batch is handed to `recorded`, which ends their
 * claims.
 */
import { Serial } from "../jobs/serial.ts";
import type { DeliveryOutcome } from "./store.ts";

// After a failed record of outcomes, the next try.
const RECORD_AGAIN_MS = 100;

export class OutcomeRecorder {
  #outcomes: DeliveryOutcome[] = [];
  readonly #serial: Serial;
  #stopped = false;

  constructor(
    private readonly settle: (outcomes: DeliveryOutcome[]) => Promise<unknown>,
    private readonly recorded: (outcomes: DeliveryOutcome[]) => void,
    onError: (error: unknown) => void,
  ) {
    this.#serial = new Serial(() => this.#record(), onError);
  }

  /** Records `outcome` with the others that end in the same turn. */
  add(outcome: DeliveryOutcome): void {
    this.#outcomes.push(outcome);
    this.#serial.request();
  }

  /** Stopping: one last call for what is gathered, no retry after it. */
  async flush(): Promise<void> {
    this.#stopped = true;
    await this.#record().catch(() => {});
  }

  async #record(): Promise<void> {
    const outcomes = this.#outcomes.splice(0);
    if (outcomes.length === 0) return;
    try {
      await this.settle(outcomes);
      this.recorded(outcomes);
    } catch (error) {
      this.#outcomes.unshift(...outcomes);
      if (!this.#stopped) setTimeout(() => this.#serial.request(), RECORD_AGAIN_MS);
      throw error;
    }
  }
}
