// What a command gets: its parsed arguments, the terminal, and a NATS connection opened on first use
// (a usage error is reported before anything connects).
import type { NatsConnection } from "@nats-io/nats-core";
import { createLlmProviderClient } from "@llm-provider/contracts";
import type { LlmProviderClient } from "@llm-provider/contracts";
import type { OptionValues } from "./args.js";
import { openConnection } from "./connection.js";
import type { ConnectionSettings } from "./connection.js";
import { painter } from "./output.js";
import type { Paint } from "./output.js";

/** The process's streams and environment; a command writes only through these. */
export interface Terminal {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface Session {
  nc: NatsConnection;
  client: LlmProviderClient;
}

export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  settings: ConnectionSettings;
  verbose: boolean;
  terminal: Terminal;
  /** Colours for stdout and for stderr (each on only when that stream is a terminal). */
  paint: { stdout: Paint; stderr: Paint };
  out(text: string): void;
  err(text: string): void;
  connect(): Promise<Session>;
}

export function createContext(
  terminal: Terminal,
  parsed: { values: OptionValues; positionals: string[]; settings: ConnectionSettings; verbose: boolean },
): CommandContext & { close(): Promise<void> } {
  let session: Promise<Session> | undefined;
  const context = {
    ...parsed,
    terminal,
    paint: { stdout: painter(terminal.stdout, terminal.env), stderr: painter(terminal.stderr, terminal.env) },
    out: (text: string) => void terminal.stdout.write(text),
    err: (text: string) => void terminal.stderr.write(text),
    connect(): Promise<Session> {
      session ??= openConnection(parsed.settings).then((nc) => {
        if (parsed.verbose) {
          terminal.stderr.write(`connected to ${nc.getServer()} (nats-server ${nc.info?.version ?? "?"})\n`);
        }
        // The inbox prefix is the connection's: request, requestMany and the typed client all use it.
        return { nc, client: createLlmProviderClient(nc) };
      });
      return session;
    },
    async close(): Promise<void> {
      const open = await session?.catch(() => undefined);
      if (open !== undefined && !open.nc.isClosed()) await open.nc.close();
    },
  };
  return context;
}
