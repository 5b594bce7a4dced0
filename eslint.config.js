// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The service's layers (docs/architecture.md): which folders of services/llm-provider/src a layer
// must not import, and which packages. Arrows point one way: handlers → routing → domain, all may
// use ports/; infra/ implements ports and is wired in at the composition root (app.ts, composition/).
const SRC = "services/llm-provider/src";
const SDKS = ["openai", "openai/*", "@anthropic-ai/*", "undici"];
const NATS = ["@nats-io/*"];
const OTEL_SDK = ["@opentelemetry/sdk-*", "@opentelemetry/exporter-*", "@opentelemetry/resources"];
const LAYERS = [
  {
    layer: "domain",
    forbidden: ["[a-z-]+"],
    packages: [...SDKS, ...NATS, ...OTEL_SDK, "@opentelemetry/api", "pino"],
  },
  {
    layer: "codecs",
    forbidden: ["(?!domain/)[a-z-]+"],
    packages: [...SDKS, ...NATS, "@opentelemetry/*", "pino"],
  },
  { layer: "shared", forbidden: ["[a-z-]+"], packages: [...SDKS, ...NATS, "@opentelemetry/*"] },
  { layer: "ports", forbidden: ["(?!domain/)[a-z-]+"], packages: [...SDKS, ...NATS, ...OTEL_SDK] },
  {
    layer: "providers",
    forbidden: ["(routing|handlers|infra|config|composition|telemetry)/"],
    packages: [...NATS, ...OTEL_SDK, "undici"],
  },
  {
    layer: "routing",
    forbidden: ["(handlers|infra|config|composition|providers)/"],
    packages: [...SDKS, ...NATS, ...OTEL_SDK],
  },
  {
    layer: "telemetry",
    forbidden: ["(handlers|routing|infra|config|composition|providers)/"],
    packages: [...SDKS, ...NATS, ...OTEL_SDK],
  },
  {
    layer: "handlers",
    forbidden: ["(infra|composition|providers)/"],
    packages: [...SDKS, ...NATS, ...OTEL_SDK],
  },
  { layer: "infra", forbidden: ["(handlers|routing|composition|providers)/"], packages: [] },
  {
    // The `llm-provider` command: a client of the service (contracts, NATS), none of its parts.
    layer: "cli",
    forbidden: ["(?!shared/|cli/)[a-z-]+/", "(app|bootstrap)\\.js"],
    packages: [
      ...SDKS,
      "@nats-io/jetstream",
      "@nats-io/kv",
      "@nats-io/services",
      "@opentelemetry/*",
      "pino",
      "yaml",
    ],
  },
  {
    layer: "config",
    forbidden: ["(handlers|routing|infra|composition|providers|telemetry|ports)/"],
    packages: [...SDKS, ...NATS, "@opentelemetry/*"],
  },
];
const layerRules = LAYERS.map(({ layer, forbidden, packages }) => ({
  files: [`${SRC}/${layer}/**/*.ts`],
  ignores: ["**/*.test.ts"],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          ...forbidden.map((folders) => ({
            regex: `^(\\.\\./)+${folders}`,
            message: `${layer}/ must not import this layer (docs/architecture.md, layers).`,
          })),
          ...(packages.length > 0
            ? [
                {
                  group: packages,
                  message: `${layer}/ must not use this package (docs/architecture.md, layers).`,
                },
              ]
            : []),
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "coverage/**", ".data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always", { null: "ignore" }],
    },
  },
  ...layerRules,
  {
    // `expect.any(Number)` and friends are typed `any` by design.
    files: ["**/*.test.ts"],
    rules: { "@typescript-eslint/no-unsafe-assignment": "off" },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
);
