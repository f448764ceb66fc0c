/**
 * An order's life, written once: its statuses, the transitions between them with the event each
 * records, and the details each event carries. Callers above the storage ports build every change
 * with these functions; the adapters apply what they are given (guard on `from`, set `to`, record
 * the event as it is) and decide nothing. Adding an event type: docs/ARCHITECTURE.md, "How to add…".
 */

/** Every status an order can be in, in lifecycle order: the one list every other one derives from. */
export const ORDER_STATUSES = ["pending", "processing", "completed", "failed", "cancelled"] as const;
/** One of `ORDER_STATUSES`. */
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * The transition table: each event type with the status it may start from (null: the order is
 * new), the one it ends in, and what it means for the API's readers (the OpenAPI document shows it).
 */
const TRANSITIONS = {
  created: { from: null, to: "pending", means: "stored, due at once" },
  claimed: { from: "pending", to: "processing", means: "a worker slot took it: an attempt starts" },
  step_completed: {
    from: "processing",
    to: "processing",
    means: "a step of a module that exports steps completed; its result is stored with the order",
  },
  step_failed: {
    from: "processing",
    to: "processing",
    means: "a step failed on the last attempt allowed: the order fails, its completed steps undone first",
  },
  step_compensated: {
    from: "processing",
    to: "processing",
    means: "a completed step was undone by its compensate, the order having failed for good",
  },
  step_compensation_failed: {
    from: "processing",
    to: "processing",
    means: "a step's compensate failed on the last attempt allowed; an operator's retry tries it again",
  },
  completed: { from: "processing", to: "completed", means: "the attempt succeeded" },
  attempt_failed: {
    from: "processing",
    to: "pending",
    means: "the attempt failed; it runs again after a backoff",
  },
  failed: { from: "processing", to: "failed", means: "the last allowed attempt failed" },
  cancelled: { from: "pending", to: "cancelled", means: "cancelled by a client before any attempt" },
  cancel_requested: {
    from: "pending",
    to: "pending",
    means: "cancelled by a client while it had completed steps: they are undone first, at once",
  },
  cancel_completed: {
    from: "processing",
    to: "cancelled",
    means: "the completed steps of an order a client cancelled were undone: it is cancelled",
  },
  retried: { from: "failed", to: "pending", means: "an operator's retry, with a fresh attempt budget" },
  released: { from: "processing", to: "pending", means: "back to pending because its holder is gone" },
} as const satisfies Record<string, { from: OrderStatus | null; to: OrderStatus; means: string }>;

/**
 * The statuses an order stays in unless an operator acts: no transition leaves them but an
 * operator's retry. Retention may delete orders in them (ORDER_RETENTION_DAYS).
 */
export const FINAL_STATUSES = ORDER_STATUSES.filter((status) =>
  Object.entries(TRANSITIONS).every(
    ([type, t]) => t.from !== status || t.to === status || type === "retried",
  ),
);

/** Every kind of order event, one per transition, in the table's order. */
export type EventType = keyof typeof TRANSITIONS;
export const EVENT_TYPES = Object.keys(TRANSITIONS) as [EventType, ...EventType[]];

/**
 * One change of one order as storage applies it: only while the order is in `from` (null: it is
 * being created), it moves to `to`, and the event `type` with `details` is recorded in the same
 * transaction (its `attempt` is the order's attempt count after the change).
 */
export type Transition = {
  type: EventType;
  from: OrderStatus | null;
  to: OrderStatus;
  details: Record<string, unknown> | null;
};

/** A transition of the table; `T` narrows what a port accepts (a settlement, a claim...). */
type TransitionOf<T extends EventType, D = Transition["details"]> = Transition & { type: T; details: D };

function make<T extends EventType, D extends Record<string, unknown> | null = null>(type: T, details?: D) {
  const { from, to } = TRANSITIONS[type];
  return { type, from, to, details: details ?? null } as TransitionOf<T, D>;
}

/** The order is stored, pending and due at once. */
export const created = () => make("created");
/** A worker slot (`owner`) takes the order: an attempt begins. */
export const claimed = (owner: string) => make("claimed", { claimed_by: owner });
/**
 * A step of a module that exports `steps` completed in this attempt; the order stays processing
 * and the next step runs (src/queue/steps.ts).
 */
export const stepCompleted = (step: string) => make("step_completed", { step });
/** A step failed on the order's last forward attempt (its module's steps). */
export const stepFailed = (step: string, error: string) => make("step_failed", { step, error });
/** A completed step was undone (its module's `compensate`). */
export const stepCompensated = (step: string) => make("step_compensated", { step });
/** A step's `compensate` failed and no attempt is left to try it again. */
export const stepCompensationFailed = (step: string, error: string) =>
  make("step_compensation_failed", { step, error });
/** The attempt succeeded. */
export const completed = () => make("completed");
/** `step` is set when a module exports steps: the one that failed (a retry resumes there). */
const inStep = (step: string | undefined) => (step === undefined ? {} : { step });
/**
 * The attempt failed and the order runs again after `backoffMs`; `compensating` when it was an
 * attempt to undo the order's steps (its `step`'s compensate failed).
 */
export const attemptFailed = (error: string, backoffMs: number, step?: string, compensating?: boolean) =>
  make("attempt_failed", {
    error,
    backoff_ms: backoffMs,
    ...inStep(step),
    ...(compensating ? { compensating: true } : {}),
  });
/**
 * The last allowed attempt failed: the order gives up. For a module's steps, `step` is the one that
 * failed and `compensation` says whether its completed steps were undone.
 */
export const failed = (error: string, step?: string, compensation?: Compensation) =>
  make("failed", { error, ...inStep(step), ...(compensation === undefined ? {} : { compensation }) });
/** How the undoing of a failed order's completed steps ended. */
export type Compensation = "compensated" | "compensation_failed";
/** A client cancelled the order before any worker took it. */
export const cancelled = () => make("cancelled");
/** A client cancelled a pending order whose completed steps must be undone first. */
export const cancelRequested = () => make("cancel_requested");
/** The completed steps of an order a client cancelled were undone (compensated). */
export const cancelCompleted = () => make("cancel_completed", { compensation: "compensated" });
/** An operator retried a failed order: pending again, with a fresh attempt budget. */
export const retried = (previousAttempts: number) => make("retried", { previous_attempts: previousAttempts });
/**
 * The order's holder is gone: back to pending, due at once. Why: its worker thread stopped (died,
 * or shutdown ran out of time), the process restarted after a crash (SQLite, at open), or the
 * lease of a lost replica ran out.
 */
export const workerStopped = () => make("released", { reason: "worker_stopped" });
export const restarted = () => make("released", { reason: "restart" });
export const leaseExpired = () => make("released", { reason: "lease_expired" });
/** Every release reason. */
export const RELEASE_REASONS = [workerStopped(), restarted(), leaseExpired()].map((t) => t.details.reason);

/** What each event type means, and which details it carries: for the API's documentation. */
export function describeEventTypes(): { types: string; details: string } {
  const examples = [
    claimed("<owner>"),
    stepCompleted("<step>"),
    stepFailed("<step>", "<error>"),
    stepCompensated("<step>"),
    stepCompensationFailed("<step>", "<error>"),
    attemptFailed("<error>", 0, "<step>"),
    failed("<error>", "<step>", "compensated"),
    retried(0),
    workerStopped(),
  ];
  const types = EVENT_TYPES.map((type) => `${type}: ${TRANSITIONS[type].means}`).join("; ");
  const reasons = `release reasons: ${RELEASE_REASONS.join(", ")}`;
  const details = examples.map((t) => `${t.type}: ${Object.keys(t.details ?? {}).join(", ")}`).join("; ");
  return { types: `${types} (${reasons})`, details };
}

/** The transitions that settle an attempt (what a worker reported), and how the queue counts each. */
export type SettleTransition = TransitionOf<"completed" | "attempt_failed" | "failed" | "cancel_completed">;
export const OUTCOMES = {
  completed: "completed",
  attempt_failed: "retry",
  failed: "failed",
  cancel_completed: "cancelled",
} as const;
export type Outcome = (typeof OUTCOMES)[keyof typeof OUTCOMES];
