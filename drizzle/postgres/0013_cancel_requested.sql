-- Cancelling an order whose completed steps must be undone first (issue 22): the request is kept
-- with the order until its compensations have run, then it is cancelled (docs/STEPS.md). A
-- nullable column without a default rewrites no rows.
ALTER TABLE "orders" ADD COLUMN "cancel_requested_at" timestamp (3) with time zone;