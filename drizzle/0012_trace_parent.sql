-- The W3C traceparent of the request that created the order (tracing on), so its attempts and
-- webhook deliveries are spans of that trace wherever they run. Nullable: no rewrite.
ALTER TABLE `orders` ADD `trace_parent` text;
