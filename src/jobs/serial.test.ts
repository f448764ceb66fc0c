import { expect, test } from "bun:test";
import { Serial } from "./serial.ts";

const fail = (error: unknown) => {
  throw error;
};

test("one run at a time; requests during a run coalesce into one more run after it", async () => {
  let runs = 0;
  let overlapping = 0;
  let active = 0;
  let release: () => void = () => {};
  const serial = new Serial(async () => {
    active++;
    overlapping = Math.max(overlapping, active);
    runs++;
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    active--;
  }, fail);
  serial.request();
  serial.request();
  serial.request();
  expect(runs).toBe(1);
  release();
  await Bun.sleep(0);
  expect(runs).toBe(2); // the three requests made one run and one more after it
  release();
  await Bun.sleep(0);
  expect(serial.running).toBe(false);
  expect(runs).toBe(2);
  expect(overlapping).toBe(1);
});

test("a run that throws is reported and ends; the next request runs the task again", async () => {
  let runs = 0;
  const errors: unknown[] = [];
  const serial = new Serial(
    async () => {
      runs++;
      throw new Error("boom");
    },
    (error) => errors.push(error),
  );
  serial.request();
  await Bun.sleep(0);
  expect(serial.running).toBe(false);
  serial.request();
  await Bun.sleep(0);
  expect(runs).toBe(2);
  expect(errors.map(String)).toEqual(["Error: boom", "Error: boom"]);
});
