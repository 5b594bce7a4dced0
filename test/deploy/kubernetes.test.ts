// The Kubernetes manifests, checked offline: every object validates against the Kubernetes API
// schemas (kubernetes-models), and they agree with each other and with the service — the config
// they mount passes the service's own checks, every secret it names is provided, probes and
// grace periods match what the service does.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Job } from "kubernetes-models/batch/v1/Job";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IContainer } from "kubernetes-models/v1/Container";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { applyEnvOverrides, parseConfig } from "../../services/llm-provider/src/config/load-config.js";
import type { Config, SecretRef } from "../../services/llm-provider/src/config/schema.js";
import { describeSecretRef, resolveSecret } from "../../services/llm-provider/src/config/secrets.js";
import { finalStage, imageEntrypoint } from "./dockerfile.js";

const dir = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));
const kinds = { Namespace, ConfigMap, Job, Deployment, PodDisruptionBudget } as const;

type Manifest = { kind: keyof typeof kinds; metadata: { name: string } } & Record<string, unknown>;

const manifests: Manifest[] = readdirSync(dir)
  .filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml")
  .flatMap((file) =>
    parseAllDocuments(readFileSync(dir + file, "utf8")).map((doc) => doc.toJS() as Manifest),
  );
const one = <K extends keyof typeof kinds>(kind: K, name?: string) => {
  const found = manifests.filter(
    (manifest) => manifest.kind === kind && (name === undefined || manifest.metadata.name === name),
  );
  expect(found).toHaveLength(1);
  return found[0]!;
};
const deployment = () => new Deployment(one("Deployment"));
const job = () => new Job(one("Job", "llm-provider-bootstrap"));
const configApplyJob = () => new Job(one("Job", "llm-provider-config-apply"));
const serviceConfigText = () =>
  (one("ConfigMap") as unknown as { data: Record<string, string> }).data["config.yaml"]!;

/**
 * The environment a container gets: literal values as they are, values from the Secret
 * `llm-provider-secrets` as a placeholder (the real ones are created at install time). A value
 * from anywhere else stays unset, so a reference to it counts as missing.
 */
function containerEnv(container: IContainer): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const entry of container.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (entry.valueFrom?.secretKeyRef?.name === "llm-provider-secrets")
      env[entry.name] = `from-secret:${entry.valueFrom.secretKeyRef.key}`;
  }
  return env;
}

/** The config the container's process loads: the ConfigMap's file with its environment applied. */
const configIn = (container: IContainer): Config =>
  parseConfig(applyEnvOverrides(parse(serviceConfigText()), containerEnv(container)), container.name);

const natsSecretRefs = (config: Config): [string, SecretRef][] =>
  (["password_ref", "token_ref"] as const).flatMap((field) => {
    const ref = config.nats[field];
    return ref ? [[`nats.${field}`, ref] as [string, SecretRef]] : [];
  });
const providerKeyRefs = (config: Config): [string, SecretRef][] =>
  config.providers.flatMap((provider) =>
    provider.api_key_ref && provider.is_active
      ? [[`providers.${provider.id}.api_key_ref`, provider.api_key_ref] as [string, SecretRef]]
      : [],
  );

describe("deploy/kubernetes", () => {
  it("holds only objects that validate against the Kubernetes API schemas", () => {
    expect(manifests.map((manifest) => manifest.kind).sort()).toEqual([
      "ConfigMap",
      "Deployment",
      "Job",
      "Job",
      "Namespace",
      "PodDisruptionBudget",
    ]);
    for (const manifest of manifests) {
      const Model = kinds[manifest.kind];
      expect(
        () => new Model(manifest as never).validate(),
        `${manifest.kind} ${manifest.metadata.name}`,
      ).not.toThrow();
    }
  });

  it("lists every manifest in kustomization.yaml", () => {
    const kustomization = parse(readFileSync(`${dir}kustomization.yaml`, "utf8")) as { resources: string[] };
    const files = readdirSync(dir).filter((file) => file.endsWith(".yaml") && file !== "kustomization.yaml");
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it("mounts a production config the service accepts, with R3 state and the probes on", () => {
    // As the worker loads it: the file, then the overrides of the Deployment's environment.
    const config = configIn(deployment().spec!.template.spec!.containers[0]!);
    expect(config.environment).toBe("production");
    expect(config.policy_gateway.bypass).toBe(false);
    expect(config.probes).toEqual({ enabled: true, host: "0.0.0.0", port: 8080 });
    expect(config.callers.identity).toBe("account");
    expect(config.service.create_state ?? false).toBe(false); // the bootstrap job makes the state
    expect(config.live_config.enabled).toBe(true); // the config-apply job stores what workers run
    for (const replicas of [
      config.events.replicas,
      config.embedding_cache.replicas,
      config.health.replicas,
      config.circuit_breaker.replicas,
      config.rate_limits.replicas,
      config.spend.replicas,
      config.idempotency.replicas,
      config.jobs.replicas,
      config.resumable_streams.replicas,
      config.live_config.replicas,
    ])
      expect(replicas).toBe(3);
    // Large stored replies are capped: a full bucket stops keeping them, never the service.
    expect(config.idempotency.replies_max_bytes).toBeGreaterThan(0);
    expect(serviceConfigText()).not.toMatch(/sk-|api_key:/); // references only, never a key
  });

  it("gives the workers every secret the config refers to, from the Secret, never as a literal", () => {
    const container = deployment().spec!.template.spec!.containers[0]!;
    const config = configIn(container);
    const refs = [...natsSecretRefs(config), ...providerKeyRefs(config)];
    expect(refs.map(([, ref]) => describeSecretRef(ref)).sort()).toEqual([
      "env:ANTHROPIC_API_KEY",
      "env:NATS_PASSWORD",
      "env:OPENAI_API_KEY",
    ]);
    // The service's own resolution (production refuses to start when one is missing).
    const env = containerEnv(container);
    for (const [field, ref] of refs) expect(resolveSecret(ref, env), field).toMatch(/^from-secret:/);
    for (const entry of container.env ?? [])
      if (/KEY|PASSWORD|TOKEN|SECRET/.test(entry.name)) expect(entry.value, entry.name).toBeUndefined();
  });

  it("gives the bootstrap job NATS credentials of its own and no provider key (it calls no provider)", () => {
    const container = job().spec!.template.spec!.containers[0]!;
    const config = configIn(container);
    const env = containerEnv(container);
    // The administration rights are the bootstrap user's alone, never the workers'.
    expect(config.nats.user).toBe("llm-provider-bootstrap");
    expect(configIn(deployment().spec!.template.spec!.containers[0]!).nats.user).toBe("llm-provider");
    for (const [field, ref] of natsSecretRefs(config))
      expect(resolveSecret(ref, env), field).toBe("from-secret:bootstrap-nats-password");
    for (const [field, ref] of providerKeyRefs(config))
      expect(resolveSecret(ref, env), field).toBeUndefined();
  });

  it("applies the mounted config to the live configuration as the config admin, with no provider key", () => {
    const container = configApplyJob().spec!.template.spec!.containers[0]!;
    expect(container.command).toEqual(["node", "services/llm-provider/dist/cli/main.js"]);
    expect(container.args).toEqual(["config", "apply", "--file", "/etc/llm-provider/config.yaml"]);
    expect(container.volumeMounts).toEqual(job().spec!.template.spec!.containers[0]!.volumeMounts);
    // The CLI's own NATS_* variables: the config admin's user and password, the workers' server.
    const env = containerEnv(container);
    expect(env).toEqual({
      NATS_URL: [configIn(deployment().spec!.template.spec!.containers[0]!).nats.servers].flat()[0],
      NATS_USER: "llm-provider-config-admin",
      NATS_PASSWORD: "from-secret:config-admin-nats-password",
    });
    const servicePackage = JSON.parse(
      readFileSync(
        fileURLToPath(new URL("../../services/llm-provider/package.json", import.meta.url)),
        "utf8",
      ),
    ) as { bin: Record<string, string> };
    expect(servicePackage.bin["llm-provider"]).toBe("./dist/cli/main.js");
  });

  it("probes the service's own endpoints and outlasts its drain on SIGTERM", () => {
    const spec = deployment().spec!;
    const container = spec.template.spec!.containers[0]!;
    const config = configIn(container);
    const port = container.ports!.find((entry) => entry.name === "probes")!;
    expect(port.containerPort).toBe(config.probes.port);
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "probes" });
    expect(container.startupProbe?.httpGet).toEqual({ path: "/readyz", port: "probes" });
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/livez", port: "probes" });
    // A stop (the grace, plus at most 1 s of flushing and the NATS drain) ends before SIGKILL.
    expect(spec.template.spec!.terminationGracePeriodSeconds! * 1_000).toBeGreaterThan(
      config.service.shutdown_grace_ms + 5_000,
    );
    expect(container.args).toEqual(["--config", "/etc/llm-provider/config.yaml"]);
    expect(spec.strategy?.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    expect(spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it("runs as the image's non-root user with a read-only root filesystem and no API token", () => {
    for (const pod of [
      deployment().spec!.template.spec!,
      job().spec!.template.spec!,
      configApplyJob().spec!.template.spec!,
    ]) {
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 }); // `node` in node:22 images
      expect(pod.automountServiceAccountToken).toBe(false);
      for (const container of pod.containers)
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
    }
    expect(readFileSync(fileURLToPath(new URL("../../Dockerfile", import.meta.url)), "utf8")).toMatch(
      /^USER node$/m,
    );
  });

  it("keeps at least all but one worker through voluntary disruptions", () => {
    const pdb = new PodDisruptionBudget(one("PodDisruptionBudget"));
    expect(pdb.spec!.maxUnavailable).toBe(1);
    expect(pdb.spec!.selector).toEqual(deployment().spec!.selector);
    expect(deployment().spec!.template.metadata!.labels).toMatchObject(
      deployment().spec!.selector.matchLabels!,
    );
  });

  it("bootstraps the state with the image's bootstrap entry and the same config", () => {
    const container = job().spec!.template.spec!.containers[0]!;
    expect(container.command).toEqual(["node", "services/llm-provider/dist/bootstrap.js"]);
    expect(container.args).toEqual(["--config", "/etc/llm-provider/config.yaml"]);
    const servicePackage = JSON.parse(
      readFileSync(
        fileURLToPath(new URL("../../services/llm-provider/package.json", import.meta.url)),
        "utf8",
      ),
    ) as { bin: Record<string, string> };
    expect(servicePackage.bin["llm-provider-bootstrap"]).toBe("./dist/bootstrap.js");
  });

  it("runs the image's entrypoint, whose paths are what the build produces and the image holds", () => {
    const dockerfile = readFileSync(fileURLToPath(new URL("../../Dockerfile", import.meta.url)), "utf8");
    const worker = deployment().spec!.template.spec!.containers[0]!;
    // The workers keep the image's ENTRYPOINT (main.js) and only replace its CMD (the config path).
    expect(worker.command).toBeUndefined();
    const entrypoint = imageEntrypoint(dockerfile);
    expect(entrypoint[0]).toBe("node");
    expect(entrypoint.at(-1)).toBe("services/llm-provider/dist/main.js");
    // Relative to the final stage's WORKDIR, which holds the compiled service.
    const stage = finalStage(dockerfile);
    expect(stage).toMatch(/^WORKDIR \/app$/m);
    expect(stage).toMatch(
      /^COPY --from=build \/app\/services\/llm-provider\/dist services\/llm-provider\/dist$/m,
    );
    // tsc compiles src/<name>.ts to dist/<name>.js: both entries exist as sources.
    const tsconfig = JSON.parse(
      readFileSync(
        fileURLToPath(new URL("../../services/llm-provider/tsconfig.json", import.meta.url)),
        "utf8",
      ),
    ) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: "src", outDir: "dist" });
    for (const entry of ["main", "bootstrap"])
      expect(
        existsSync(fileURLToPath(new URL(`../../services/llm-provider/src/${entry}.ts`, import.meta.url))),
        entry,
      ).toBe(true);
  });
});
