/** The exec-form ENTRYPOINT of the Dockerfile's final stage, as the argv it runs. */
export function imageEntrypoint(dockerfile: string): string[] {
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  const line = /^ENTRYPOINT (\[.*\])$/m.exec(finalStage);
  if (!line) throw new Error("the final stage has no exec-form ENTRYPOINT");
  return JSON.parse(line[1]!) as string[];
}
