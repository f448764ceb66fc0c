/**
 * What every SQL file of the PostgreSQL adapter shares: named statements, and times as the ports
 * speak them (epoch milliseconds) on both sides of a statement.
 */
import type pg from "pg";

/** A named statement: prepared once per connection by `pg`. */
export const statement =
  (name: string, text: string) =>
  (values: unknown[]): pg.QueryConfig => ({ name, text, values });

/** A timestamptz column read as epoch ms (float8: `pg` gives numbers, not strings). */
export const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;

/** A parameter of epoch ms written as a timestamptz. */
export const at = (param: string) => `to_timestamp(${param}::float8 / 1000)`;
