/**
 * The shape of the code, checked over the real import graph of src/ so it stays true: storage
 * adapters import no feature, and features import no database (docs/ARCHITECTURE.md).
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { EVENT_TYPES, ORDER_STATUSES, RELEASE_REASONS } from "../src/lifecycle.ts";

const SRC = join(import.meta.dir, "..", "src");
const FEATURES = ["orders", "queue", "system", "events", "webhooks", "dashboard", "retention"];
// Modules that only a storage adapter may use.
const DATABASE_MODULES = [/^drizzle-orm/, /^bun:sqlite$/, /^pg$/, /^postgres$/, /^bun:ffi$/];

/** Every .ts file under src/, relative to it. */
function sourceFiles(): string[] {
  return readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => file.replaceAll("\\", "/"));
}

/**
 * What a file refers to: static and dynamic imports, re-exports, `import type`, and module URLs
 * given to Workers (`new URL("./x.ts", import.meta.url)`). Relative ones come back relative to src/.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), "utf8");
  const pattern = /(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)["']([^"']+)["']/g;
  return [...text.matchAll(pattern)].map(([, spec = ""]) =>
    spec.startsWith(".") ? relative(SRC, resolve(SRC, dirname(file), spec)).replaceAll("\\", "/") : spec,
  );
}

const graph = sourceFiles().map((file) => ({ file, imports: importsOf(file) }));

/** A source file's code without its comments. */
const code = (file: string) =>
  readFileSync(join(SRC, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1");

test("the import graph is read: it sees the adapter's imports and the features' ports", () => {
  const storage = graph.find((node) => node.file === "db/sqlite/storage.ts");
  expect(storage?.imports).toContain("db/sqlite/writer.ts");
  const service = graph.find((node) => node.file === "orders/service.ts");
  expect(service?.imports).toContain("orders/store.ts");
});

test("no file under src/db/ imports a feature (orders, queue, system, events, webhooks, dashboard)", () => {
  const offending = graph.flatMap(({ file, imports }) =>
    file.startsWith("db/")
      ? imports
          .filter((spec) => FEATURES.some((feature) => spec.startsWith(`${feature}/`)))
          .map((spec) => `${file} -> ${spec}`)
      : [],
  );
  expect(offending).toEqual([]);
});

test("features import no database: no Drizzle, no driver, nothing under src/db/", () => {
  const offending = graph.flatMap(({ file, imports }) =>
    FEATURES.some((feature) => file.startsWith(`${feature}/`))
      ? imports
          .filter((spec) => spec.startsWith("db/") || DATABASE_MODULES.some((module) => module.test(spec)))
          .map((spec) => `${file} -> ${spec}`)
      : [],
  );
  expect(offending).toEqual([]);
});

test("only the composition root picks an adapter: nothing but open-storage.ts imports src/db/ from outside it", () => {
  const offending = graph.flatMap(({ file, imports }) =>
    !file.startsWith("db/") && file !== "open-storage.ts"
      ? imports.filter((spec) => spec.startsWith("db/")).map((spec) => `${file} -> ${spec}`)
      : [],
  );
  expect(offending).toEqual([]);
});

test("only the entry points exit the process: main.ts (the service) and cli.ts (the operator's commands)", () => {
  const exiting = graph
    .filter(({ file }) => !file.endsWith(".test.ts") && file !== "main.ts" && file !== "cli.ts")
    .filter(({ file }) => /process\.exit\(/.test(readFileSync(join(SRC, file), "utf8")))
    .map(({ file }) => file);
  expect(exiting).toEqual([]);
});

test("no arrow runs upward: the composition root is imported only from above, config from nowhere in src/", () => {
  // Who may import each file of the composition root (main.ts boots server.ts, which builds the
  // app and opens the storage; cli.ts, the operator's commands, migrates through open-storage.ts);
  // nothing imports an entry point.
  const importers: Record<string, string[]> = {
    "main.ts": [],
    "cli.ts": [],
    "server.ts": ["main.ts"],
    "app.ts": ["server.ts"],
    "open-storage.ts": ["server.ts", "cli.ts"],
  };
  const upward = graph.flatMap(({ file, imports }) =>
    file.endsWith(".test.ts")
      ? []
      : imports
          .filter((spec) => spec in importers && !importers[spec]?.includes(file))
          .map((spec) => `${file} -> ${spec}`),
  );
  expect(upward).toEqual([]);
  // The lowest layer: config.ts reads the environment (with the readers of config-read.ts and the
  // tracing settings of config-tracing.ts) and imports nothing else of the service but two leaves
  // that import nothing of the service themselves: the ISO currency list (DEFAULT_CURRENCY) and the
  // address ranges (TRUSTED_PROXIES, read with ipaddr.js).
  const CONFIG_FILES = ["config.ts", "config-read.ts", "config-tracing.ts"];
  const config = graph.filter((node) => CONFIG_FILES.includes(node.file));
  expect(config).toHaveLength(3);
  const imported = config.flatMap(({ imports }) => imports.filter((spec) => !spec.startsWith("node:")));
  expect([...new Set(imported)].sort()).toEqual([
    "config-read.ts",
    "config-tracing.ts",
    "kit/address-range.ts",
    "kit/currency.ts",
  ]);
  for (const leaf of ["kit/currency.ts", "kit/address-range.ts"]) {
    const node = graph.find((candidate) => candidate.file === leaf);
    expect(node?.imports.filter((spec) => spec.endsWith(".ts"))).toEqual([]);
  }
});

test("the HTTP shell (src/http/) imports no feature's routes, services or models: only ports and shared records", () => {
  const offending = graph.flatMap(({ file, imports }) =>
    file.startsWith("http/") && !file.endsWith(".test.ts")
      ? imports
          .filter(
            (spec) =>
              FEATURES.some((feature) => spec.startsWith(`${feature}/`)) && !spec.endsWith("/store.ts"),
          )
          .map((spec) => `${file} -> ${spec}`)
      : [],
  );
  expect(offending).toEqual([]);
});

test("the lifecycle is spelled once: event types, release reasons and detail keys only in src/lifecycle.ts", () => {
  // Names that are not also statuses (a status is rightly named wherever orders are read), as a
  // string literal (event types, reasons) or an object key (detail keys), outside comments. Tests
  // may spell anything.
  const literals = [
    ...EVENT_TYPES.filter((type) => !(ORDER_STATUSES as readonly string[]).includes(type)),
    ...RELEASE_REASONS,
  ];
  const keys = ["claimed_by", "backoff_ms", "previous_attempts"];
  const names = [...literals, ...keys];
  const texts = graph
    .filter(({ file }) => !file.endsWith(".test.ts"))
    .map(({ file }) => ({ file, text: code(file) }));
  const spelledIn = Object.fromEntries(
    names.map((name) => {
      const pattern = keys.includes(name)
        ? new RegExp(`\\b${name}\\s*:(?!:)`)
        : new RegExp(`["'\`]${name}["'\`]`);
      return [name, texts.filter(({ text }) => pattern.test(text)).map(({ file }) => file)];
    }),
  );
  expect(spelledIn).toEqual(Object.fromEntries(names.map((name) => [name, ["lifecycle.ts"]])));
});

// The error catalogue's constructors (`export function notFound(...): AppError`).
const ERROR_CONSTRUCTORS = [
  ...readFileSync(join(SRC, "kit/errors.ts"), "utf8").matchAll(/export function (\w+)\([^)]*\): AppError/g),
].map(([, name]) => name as string);

/**
 * The `"METHOD /path"` keys of `text` whose value holds errors: a call of a constructor of the
 * catalogue, or an `AppError`.
 */
function errorKeysIn(text: string): string[] {
  const errors = new RegExp(`\\b(?:${ERROR_CONSTRUCTORS.join("|")}|AppError)\\b`);
  const keys = /["'`]((?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \/[^"'`]*)["'`]\s*:/g;
  return [...text.matchAll(keys)].flatMap((match) => {
    // The value: up to the bracket that closes the one it opens, or to the end of its line.
    const start = (match.index ?? 0) + match[0].length;
    let depth = 0;
    let end = start;
    for (; end < text.length; end++) {
      const char = text[end] as string;
      if ("[{(".includes(char)) depth++;
      else if ("]})".includes(char) && --depth <= 0) break;
      else if (depth === 0 && (char === "," || char === "\n") && text.slice(start, end).trim() !== "") break;
    }
    return errors.test(text.slice(start, end + 1)) ? [match[1] as string] : [];
  });
}

test('each route declares its errors where it is defined: no other file keys errors by "METHOD /path"', () => {
  expect(ERROR_CONSTRUCTORS).toContain("orderNotFound");
  // The scan finds such a table when there is one.
  const table = `const ERRORS = {\n  "GET /orders/{order_id}": [orderNotFound("x")],\n  "GET /health": [],\n};`;
  expect(errorKeysIn(table)).toEqual(["GET /orders/{order_id}"]);
  const offending = graph
    .filter(({ file }) => !file.endsWith(".test.ts") && !file.endsWith("/routes.ts"))
    .flatMap(({ file }) => errorKeysIn(code(file)).map((key) => `${file}: ${key}`));
  expect(offending).toEqual([]);
});
