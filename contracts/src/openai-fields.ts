/**
 * OpenAI request fields this contract does not take, each with why and what to do instead. A
 * request naming one is refused with that reason rather than a bare "unknown field", and
 * docs/openai-compatibility.md lists them beside the fields taken (a test keeps the two equal).
 */
export const REFUSED_OPENAI_CHAT_FIELDS: Readonly<Record<string, string>> = {
  n: "one choice per request; send n requests for n answers",
  stream: "streaming has its own subject: send the same body to llm-provider.cmd.stream_chat",
  stream_options: "stream_chat always reports usage in its terminal message",
  logprobs: "log probabilities are not carried across providers",
  top_logprobs: "log probabilities are not carried across providers",
  logit_bias: "token ids differ per provider and model",
  verbosity: "not taken by this version",
  modalities: "text output only",
  audio: "text output only",
  prediction: "predicted outputs are OpenAI-only and not carried",
  web_search_options: "provider-hosted tools are not carried; define a function tool",
  service_tier: "a provider account setting, configured per provider, not per request",
  store: "stored completions are OpenAI-only; every completion is an event on JetStream",
  prompt_cache_key:
    "an OpenAI-only routing hint; OpenAI caches without it, use prompt_cache or cache_control for the others",
  safety_identifier: "use user, which is passed to the provider",
};
