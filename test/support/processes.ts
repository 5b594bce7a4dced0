// Checks the harness tests make of what they started: is a process gone, is a dir removed.
import { access } from "node:fs/promises";

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 only checks existence
    return true;
  } catch {
    return false;
  }
}

export async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
