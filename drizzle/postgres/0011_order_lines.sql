-- Orders with line items (issue 22): money is in minor units of the order's currency, so the
-- total's column loses its "cents"; every existing order was priced in USD cents, the default.
-- `cart` holds the priced lines and charges (NULL for a seed-shaped order). Renaming a column and
-- adding ones with constant defaults rewrite no rows.
ALTER TABLE "orders" RENAME COLUMN "total_cents" TO "total_minor";--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "currency" text DEFAULT 'USD' NOT NULL;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "cart" jsonb;