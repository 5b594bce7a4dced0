// The typed error a call to the service ends with: a test that expects a refusal fails plainly
// when the call succeeds or throws something else.
import { LlmProviderError } from "@llm-provider/contracts";
import { expect } from "vitest";

export async function refusalOf(promise: Promise<unknown>): Promise<LlmProviderError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(LlmProviderError);
  return error as LlmProviderError;
}
