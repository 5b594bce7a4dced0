import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ThrottledWarning } from "./embedding-cache-warning.js";

function capture() {
  const lines: { msg: string; err: string; suppressed: number }[] = [];
  const sink = new Writable({
    write: (chunk: Buffer, _encoding, done) => {
      lines.push(JSON.parse(chunk.toString()) as (typeof lines)[number]);
      done();
    },
  });
  return { logger: pino({ level: "warn" }, sink), lines };
}

describe("ThrottledWarning", () => {
  it("logs one warning per interval and says how many it held back", () => {
    const { logger, lines } = capture();
    const warning = new ThrottledWarning(logger, 60_000);
    warning.warn("first", new Error("down"));
    warning.warn("second", "still down");
    warning.warn("third", "still down");
    expect(lines).toEqual([expect.objectContaining({ msg: "first", err: "down", suppressed: 0 })]);
  });

  it("logs again once the interval has passed, with the count held back meanwhile", () => {
    const { logger, lines } = capture();
    const warning = new ThrottledWarning(logger, 0);
    warning.warn("first", "a");
    warning.warn("second", "b");
    expect(lines.map((line) => line.msg)).toEqual(["first", "second"]);
    expect(lines[1]).toMatchObject({ err: "b", suppressed: 0 });
  });
});
