/**
 * `.env.example` against `loadConfig`, the one reader of the environment: every variable it reads
 * is listed, nothing else is, and each listed default is what the service uses when it is unset.
 */
import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config.ts";
import { cleanup, tempDir } from "./helpers.ts";

afterEach(cleanup);

const ENV_EXAMPLE = join(import.meta.dir, "..", ".env.example");
const text = await Bun.file(ENV_EXAMPLE).text();

/** `NAME=value` lines: the default. `# NAME=value` lines: no plain default, an example value. */
function listed(commented: boolean): Map<string, string> {
  const line = commented ? /^# ?([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/;
  return new Map(
    text.split("\n").flatMap((row) => {
      const match = row.match(line);
      return match ? [[match[1] as string, match[2] as string] as const] : [];
    }),
  );
}

const defaults = listed(false);
const examples = listed(true);

/** The variables `loadConfig` reads from `env`, recorded by a Proxy standing in for it. */
function variablesRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recorder = new Proxy(env, {
    get(target, key) {
      if (typeof key === "string") read.add(key);
      return target[key as string];
    },
  });
  loadConfig(recorder);
  return read;
}

test(".env.example lists every variable loadConfig reads, each once, and nothing else", () => {
  // Unset, and with every default set: a variable read only once another is set shows up too.
  const read = new Set([...variablesRead({}), ...variablesRead(Object.fromEntries(defaults))]);
  const names = [...defaults.keys(), ...examples.keys()];
  expect(new Set(names).size).toBe(names.length);
  expect(names.toSorted()).toEqual([...read].toSorted());
  expect(read.size).toBeGreaterThan(30);
});

test("each listed default is what loadConfig uses when the variable is unset", () => {
  const unset = loadConfig({});
  for (const [name, value] of defaults) {
    expect({ name, config: loadConfig({ [name]: value }) }).toEqual({ name, config: unset });
  }
});

test("each commented-out example is a valid value (or names a file, absent here)", () => {
  for (const [name, value] of examples) {
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect({ name, message: (error as Error).message }).toEqual({
        name,
        message: expect.stringContaining(`${name} must name`),
      });
    }
  }
});

test("Bun reads the file as listed: the defaults set, the commented-out lines not", () => {
  // From an empty folder with a bare environment, so no .env of the developer's is read as well.
  const child = Bun.spawnSync(
    ["bun", `--env-file=${ENV_EXAMPLE}`, "-e", "console.log(JSON.stringify(process.env))"],
    { cwd: tempDir(), env: { PATH: process.env.PATH ?? "" } },
  );
  expect(child.exitCode).toBe(0);
  const env = JSON.parse(child.stdout.toString()) as Record<string, string>;
  for (const [name, value] of defaults) expect({ name, value: env[name] }).toEqual({ name, value });
  for (const name of examples.keys()) expect({ name, value: env[name] }).toEqual({ name, value: undefined });
});
