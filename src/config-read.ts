/**
 * How each kind of setting is read and checked (numbers in a range, choices, lists, URLs, API keys,
 * origins): config.ts uses these to read the environment, naming the variable in every error.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatRange, parseRange } from "./kit/address-range.ts";
import { currencyDigits } from "./kit/currency.ts";

/**
 * Why the service cannot start, naming the setting to fix; `main.ts` logs it as one JSON line and
 * exits 1.
 */
export class StartupError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown for an invalid variable. */
export class ConfigError extends StartupError {}

/** The environment, or what a test gives in its place. */
export type Env = Record<string, string | undefined>;

export function readInt(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

// The shortest lease that is safe: a lease must outlast a third of itself (the tick) plus a
// renewal, with room for one skipped tick, so the pump and the renewal must answer within a third
// of it; under load on a 2-core machine their p99 left a factor of 2 at this floor (figures:
// docs/PERFORMANCE.md, "Leases").
const LEASE_FLOOR_MS = 300;

export function readLeaseMs(env: Env): number {
  const raw = env.LEASE_MS;
  if (raw !== undefined && /^\d+$/.test(raw.trim()) && Number(raw) < LEASE_FLOOR_MS) {
    throw new ConfigError(
      "LEASE_MS",
      `LEASE_MS must be at least ${LEASE_FLOOR_MS} (ms), got "${raw}": a shorter lease can run out while its holder is alive and working (docs/ARCHITECTURE.md, Leases)`,
    );
  }
  return readInt(env, "LEASE_MS", 30_000, LEASE_FLOOR_MS, 3_600_000);
}

export function readNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(name, `${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function readChoice<T extends string>(env: Env, name: string, fallback: T, choices: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const normalized = (name === "LOG_LEVEL" ? raw.toLowerCase() : raw.toUpperCase()) as T;
  if (!choices.includes(normalized)) {
    throw new ConfigError(name, `${name} must be one of ${choices.join(", ")}, got "${raw}"`);
  }
  return normalized;
}

/** An active ISO 4217 code with a minor unit, as the orders accept it (upper case, as ISO writes it). */
export function readCurrency(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (currencyDigits(raw) === undefined) {
    throw new ConfigError(
      name,
      `${name} must be an active ISO 4217 currency code such as USD or EUR, got "${raw}"`,
    );
  }
  return raw;
}

/**
 * DATABASE_URL (or DATABASE_DIRECT_URL), when set: a postgres:// or postgresql:// URL (the password
 * is never repeated). DATABASE_DIRECT_URL without DATABASE_URL is unused, like the other
 * PostgreSQL settings on SQLite.
 */
export function readDatabaseUrl(
  env: Env,
  name: "DATABASE_URL" | "DATABASE_DIRECT_URL" = "DATABASE_URL",
): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  let protocol = "";
  try {
    protocol = new URL(raw).protocol;
  } catch {}
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    const use = name === "DATABASE_URL" ? "unset it to use SQLite" : "direct or session-mode, for LISTEN";
    throw new ConfigError(name, `${name} must be a postgres:// URL (${use})`);
  }
  return raw;
}

/** An optional path to a module, made absolute; it must exist. */
export function readModule(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const path = resolve(raw);
  if (!existsSync(path))
    throw new ConfigError(name, `${name} must name an existing module file, got "${raw}"`);
  return path;
}

export function readBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = raw.trim().toLowerCase();
  if (["true", "1", "yes"].includes(value)) return true;
  if (["false", "0", "no"].includes(value)) return false;
  throw new ConfigError(name, `${name} must be true or false, got "${raw}"`);
}

/** A comma-separated list, each entry trimmed, empty entries dropped. */
export function readList(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** What an API key may be: long enough not to be guessed, and safe in an HTTP header. */
const API_KEY = /^[\x21-\x7e]{16,256}$/;

/**
 * The API keys, from API_KEYS (comma-separated) or API_KEYS_FILE (one per line; blank lines and
 * lines starting with # are skipped). An error names the key by its position, never by its text:
 * start-up errors are logged.
 */
export function readApiKeys(env: Env): string[] {
  const inline = env.API_KEYS ?? "";
  const file = env.API_KEYS_FILE ?? "";
  if (inline !== "" && file !== "") {
    throw new ConfigError("API_KEYS", "set API_KEYS or API_KEYS_FILE, not both");
  }
  let name = "API_KEYS";
  let keys = readList(env, "API_KEYS");
  // Set but empty of keys (" ", ","): a mistake that would leave the service open.
  if (inline !== "" && keys.length === 0) throw new ConfigError(name, "API_KEYS is set but holds no key");
  if (file !== "") {
    name = "API_KEYS_FILE";
    let text: string;
    try {
      text = readFileSync(resolve(file), "utf8");
    } catch {
      throw new ConfigError(name, `API_KEYS_FILE must name a readable file, got "${file}"`);
    }
    keys = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    if (keys.length === 0) throw new ConfigError(name, `API_KEYS_FILE "${file}" holds no key`);
  }
  const bad = keys.findIndex((key) => !API_KEY.test(key) || key.includes(","));
  if (bad !== -1) {
    throw new ConfigError(
      name,
      `${name}: key ${bad + 1} must be 16 to 256 visible ASCII characters, without commas or spaces`,
    );
  }
  return keys;
}

/** CORS origins: each `scheme://host[:port]` exactly as a browser sends it in `Origin`. */
export function readOrigins(env: Env): string[] {
  const origins = readList(env, "CORS_ORIGINS");
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed?.origin !== origin) {
      throw new ConfigError(
        "CORS_ORIGINS",
        `CORS_ORIGINS must list origins like https://shop.example.com (scheme, host, optional port; no path or trailing slash), got "${origin}"`,
      );
    }
  }
  return origins;
}

/**
 * TRUSTED_PROXIES: addresses or CIDR blocks, IPv4 or IPv6, each kept as `address/prefix`. Only
 * these peers' X-Forwarded-For is believed (src/http/client-address.ts).
 */
export function readTrustedProxies(env: Env): string[] {
  return readList(env, "TRUSTED_PROXIES").map((entry) => {
    const range = parseRange(entry);
    if (range === undefined) {
      throw new ConfigError(
        "TRUSTED_PROXIES",
        `TRUSTED_PROXIES must list IP addresses or CIDR blocks like 10.0.0.7, 10.0.0.0/8 or fd00::/8, got "${entry}"`,
      );
    }
    return formatRange(range);
  });
}
