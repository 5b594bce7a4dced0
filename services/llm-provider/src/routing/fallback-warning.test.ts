import type { Attempt } from "@llm-provider/contracts";
import { describe, expect, it } from "vitest";
import type { Target } from "../domain/catalog.js";
import { fallbackWarningOf, withFallbackWarning } from "./fallback-warning.js";

const answering = {
  model: { model_name: "llama3.2" },
  provider: { id: "local" },
} as Target;

describe("fallbackWarningOf", () => {
  it("says nothing when the requested model answered", () => {
    expect(fallbackWarningOf("llama3.2", answering, [])).toBeUndefined();
    expect(withFallbackWarning(["w"], "llama3.2", answering, [])).toEqual(["w"]);
  });

  it("names the fallback and why the requested model was not used", () => {
    const attempts: Attempt[] = [
      {
        provider_id: "openai",
        model: "gpt-4o-mini",
        outcome: "skipped",
        skip_reason: "no_api_key",
        reason: "API key env:OPENAI_API_KEY of provider 'openai' is not set",
        latency_ms: 0,
      },
      { provider_id: "local", model: "llama3.2", outcome: "success", latency_ms: 12 },
    ];
    expect(withFallbackWarning(["user is not supported"], "gpt-4o-mini", answering, attempts)).toEqual([
      "answered by fallback model 'llama3.2' on provider 'local'; requested model 'gpt-4o-mini' was not " +
        "used: API key env:OPENAI_API_KEY of provider 'openai' is not set",
      "user is not supported",
    ]);
  });

  it("gives the error codes of failed calls, each once", () => {
    const failed: Attempt = {
      provider_id: "openai",
      model: "gpt-4o-mini",
      outcome: "error",
      error_code: "upstream_unavailable",
      latency_ms: 5,
    };
    expect(fallbackWarningOf("gpt-4o-mini", answering, [failed, failed])).toBe(
      "answered by fallback model 'llama3.2' on provider 'local'; requested model 'gpt-4o-mini' was not " +
        "used: upstream_unavailable",
    );
  });
});
