import { createInbox } from "@nats-io/nats-core";

/**
 * A private inbox whose reply subjects carry the number of what they answer, in base 36 as their
 * last token (`<inbox>.<n>`): with a SequenceRing, a reply finds what awaits it without a `Map`.
 */
export interface NumberedInbox {
  /** What to subscribe to: every reply subject of the inbox. */
  readonly wildcard: string;
  replySubject(sequence: number): string;
  /** The number a reply subject carries; NaN for any other subject. */
  sequenceOf(subject: string): number;
}

export function createNumberedInbox(): NumberedInbox {
  const inbox = createInbox();
  const tokenStart = inbox.length + 1;
  return {
    wildcard: `${inbox}.*`,
    replySubject: (sequence) => `${inbox}.${sequence.toString(36)}`,
    sequenceOf: (subject) =>
      subject.length > tokenStart && subject.startsWith(inbox)
        ? parseInt(subject.slice(tokenStart), 36)
        : NaN,
  };
}
