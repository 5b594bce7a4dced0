import { FailureClass, UpstreamError } from "../domain/failure.js";

/**
 * A streamed call answered with anything but an event stream (a proxy's JSON, an HTML page) is a
 * malformed response — not a stream cut before its first event, which it would otherwise look like.
 */
export function expectEventStream(response: { headers: { get(name: string): string | null } }): void {
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("text/event-stream")) {
    throw new UpstreamError(
      FailureClass.malformedResponse,
      `provider answered a streamed call with ${JSON.stringify(type.slice(0, 64) || "no content type")}, not an event stream`,
    );
  }
}
