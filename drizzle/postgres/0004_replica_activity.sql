CREATE TABLE "replica_activity" (
	"replica" text PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"report" jsonb NOT NULL
);
