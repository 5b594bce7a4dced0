/** The Dockerfile's final stage: from its last `FROM` to the end. */
export function finalStage(dockerfile: string): string {
  return dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
}

/** The exec-form ENTRYPOINT of the Dockerfile's final stage, as the argv it runs. */
export function imageEntrypoint(dockerfile: string): string[] {
  const line = /^ENTRYPOINT (\[.*\])$/m.exec(finalStage(dockerfile));
  if (!line) throw new Error("the final stage has no exec-form ENTRYPOINT");
  return JSON.parse(line[1]!) as string[];
}
