/** Reported in `$SRV.INFO`; keep in step with package.json. */
export const SERVICE_VERSION = "0.1.0";
