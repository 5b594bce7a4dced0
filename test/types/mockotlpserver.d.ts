// The package ships JavaScript only; these are the parts the tests use.
declare module "@elastic/mockotlpserver" {
  export interface MockOtlpServerOptions {
    logLevel?: string;
    services?: Array<"http" | "grpc" | "ui">;
    httpHostname?: string;
    httpPort?: number;
    onTrace?: (request: unknown) => void;
    onMetrics?: (request: unknown) => void;
  }
  export class MockOtlpServer {
    constructor(options?: MockOtlpServerOptions);
    httpUrl: URL | null;
    start(): Promise<void>;
    close(): Promise<void>;
  }
  export function normalizeTrace(request: unknown): unknown;
  export function normalizeMetrics(request: unknown): unknown;
}
