import { LlmProviderError } from "@llm-provider/contracts";
import type { LlmProviderClient, ModelSpec } from "@llm-provider/contracts";

/**
 * The model a command uses when none is named: --model, else LLM_PROVIDER_MODEL (chat) or
 * LLM_PROVIDER_EMBEDDING_MODEL (embed), else the first available model of that kind the service lists.
 */
export async function pickModel(
  kind: "chat" | "embedding",
  named: string | undefined,
  env: NodeJS.ProcessEnv,
  client: LlmProviderClient,
  timeoutMs: number | undefined,
): Promise<string> {
  const fromEnv = env[kind === "chat" ? "LLM_PROVIDER_MODEL" : "LLM_PROVIDER_EMBEDDING_MODEL"];
  const chosen = named ?? (fromEnv === "" ? undefined : fromEnv);
  if (chosen !== undefined) return chosen;
  const { data } = await client.listModels({}, timeoutMs === undefined ? {} : { timeoutMs });
  const usable = (model: ModelSpec) => model.is_available && model.feature_flags[kind];
  const model =
    kind === "chat"
      ? (data.find((spec) => usable(spec) && spec.feature_flags.streaming) ?? data.find(usable))
      : data.find(usable);
  if (model !== undefined) return model.id;
  throw new LlmProviderError(
    "unknown_model",
    `no available ${kind} model is listed (see \`llm-provider models\`); name one with --model`,
    { field: "model" },
  );
}
