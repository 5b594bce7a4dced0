/** A mistake in the command line: reported in one line with a pointer to the help, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";

  constructor(
    message: string,
    /** The command whose help explains it, if any. */
    readonly command?: string,
  ) {
    super(message);
  }
}
