-- Running totals for GET /metrics, kept in the same transaction as every write to `orders`, so the
-- endpoint reads one row at any table size and can never drift from the rows themselves.
INSERT INTO `order_metrics` (`id`) VALUES (1);
--> statement-breakpoint
CREATE TRIGGER `orders_metrics_insert` AFTER INSERT ON `orders` BEGIN
  UPDATE `order_metrics` SET
    `pending` = `pending` + (NEW.`status` = 'pending'),
    `processing` = `processing` + (NEW.`status` = 'processing'),
    `completed` = `completed` + (NEW.`status` = 'completed'),
    `failed` = `failed` + (NEW.`status` = 'failed'),
    `cancelled` = `cancelled` + (NEW.`status` = 'cancelled')
  WHERE `id` = 1;
END;
--> statement-breakpoint
CREATE TRIGGER `orders_metrics_status` AFTER UPDATE OF `status` ON `orders`
WHEN OLD.`status` <> NEW.`status` BEGIN
  UPDATE `order_metrics` SET
    `pending` = `pending` + (NEW.`status` = 'pending') - (OLD.`status` = 'pending'),
    `processing` = `processing` + (NEW.`status` = 'processing') - (OLD.`status` = 'processing'),
    `completed` = `completed` + (NEW.`status` = 'completed') - (OLD.`status` = 'completed'),
    `failed` = `failed` + (NEW.`status` = 'failed') - (OLD.`status` = 'failed'),
    `cancelled` = `cancelled` + (NEW.`status` = 'cancelled') - (OLD.`status` = 'cancelled'),
    `completed_processing_ms` = `completed_processing_ms` + CASE
      WHEN NEW.`status` = 'completed' THEN NEW.`completed_at` - NEW.`started_at` ELSE 0 END
  WHERE `id` = 1;
END;
