/**
 * A function call's JSON arguments as the object that Anthropic and Ollama take. Arguments that
 * are not a JSON object (a model's broken output, kept in the history) become `{}`, with a warning.
 */
export function parseFunctionArguments(
  argumentsJson: string,
  messageIndex: number,
  warnings: string[],
): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(argumentsJson || "{}");
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  warnings.push(`messages[${messageIndex}]: function call arguments are not a JSON object; sent as {}`);
  return {};
}
