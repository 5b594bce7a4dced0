/** The typed client in ten lines: list the models, then ask one. npm run example [-- model] */
import { connect } from "@nats-io/transport-node";
import { createLlmProviderClient, LlmProviderError } from "@llm-provider/contracts";

const nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
const llm = createLlmProviderClient(nc);
try {
  const models = await llm.listModels();
  for (const m of models.data)
    console.log(`${m.id.padEnd(28)} ${m.provider_id.padEnd(10)} available=${m.is_available}`);
  const model =
    process.argv[2] ?? models.data.find((m) => m.is_available && m.feature_flags.chat)?.id ?? "llama3.2";
  const completion = await llm.completeChat({
    model,
    messages: [{ role: "user", content: "Say hello in five words." }],
  });
  console.log(`\n${completion.provider_id}/${completion.model}: ${completion.content}`);
  console.log(
    `finish=${completion.finish_reason} tokens=${completion.usage.total_tokens} cost=$${completion.usage.cost.total} latency=${completion.latency_ms} ms`,
  );
} catch (error) {
  if (error instanceof LlmProviderError)
    console.error(`error ${error.code}${error.field ? ` (${error.field})` : ""}: ${error.message}`);
  else throw error;
  process.exitCode = 1;
} finally {
  await nc.close();
}
