import {
  ApplyConfigSchema,
  DiffConfigSchema,
  parseRequest,
  SetModelAvailableSchema,
  SetProviderActiveSchema,
  SUBJECTS,
} from "@llm-provider/contracts";
import type { LiveConfigAdmin } from "../../ports/live-config-admin.js";
import type { Endpoints } from "../../ports/request-handler.js";

/**
 * The admin subjects (`llm-provider.admin.…`): only the config-admin NATS identity can send to
 * them (server permissions); each change is logged with who the server says sent it.
 */
export function createConfigAdminEndpoints(admin: LiveConfigAdmin): Endpoints {
  return {
    [SUBJECTS.adminApplyConfig]: async (body, context) => {
      const request = parseRequest(ApplyConfigSchema, body);
      const reply = await admin.apply(request.config, {
        write: true,
        expectRevision: request.expected_revision,
      });
      context.log.info(
        {
          config_revision: reply.revision,
          previous_revision: reply.previous_revision,
          changes: reply.changes.length,
        },
        "live configuration applied over NATS",
      );
      return reply;
    },
    [SUBJECTS.adminDiffConfig]: async (body) => {
      const request = parseRequest(DiffConfigSchema, body);
      return await admin.apply(request.config, { write: false });
    },
    [SUBJECTS.adminSetProviderActive]: async (body, context) => {
      const request = parseRequest(SetProviderActiveSchema, body);
      const reply = await admin.setFlag({ what: "provider", id: request.provider_id, on: request.active });
      context.log.info(
        { config_revision: reply.revision, provider_id: request.provider_id, active: request.active },
        "provider set over NATS",
      );
      return reply;
    },
    [SUBJECTS.adminSetModelAvailable]: async (body, context) => {
      const request = parseRequest(SetModelAvailableSchema, body);
      const reply = await admin.setFlag({ what: "model", id: request.model, on: request.available });
      context.log.info(
        { config_revision: reply.revision, model: request.model, available: request.available },
        "model set over NATS",
      );
      return reply;
    },
  };
}
