import { defineConfig } from "drizzle-kit";

/** PostgreSQL migrations: `bunx drizzle-kit generate --config drizzle.postgres.config.ts`. */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/postgres/schema.ts",
  out: "./drizzle/postgres",
});
