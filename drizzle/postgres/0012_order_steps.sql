-- Processing in durable steps (issue 22): each step a module completes is stored with the order,
-- before the next one runs, so no retry, crash or lost lease runs it again (src/queue/steps.ts).
-- A nullable column without a default rewrites no rows.
ALTER TABLE "orders" ADD COLUMN "steps" jsonb;