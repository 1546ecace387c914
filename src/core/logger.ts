import { pino, destination, stdTimeFunctions, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * JSON logs on stderr (stdout is reserved for command output such as query results
 * or the stdout:// sink). Secrets never reach the logger: the redact paths below
 * cover the fields where our code could carry a credential.
 */
export function createLogger(level: LogLevel | LevelWithSilent = "info", name = "watch-auditor"): Logger {
  return pino(
    {
      name,
      level,
      base: { component: name },
      timestamp: stdTimeFunctions.isoTime,
      redact: {
        paths: ["token", "*.token", "authorization", "*.authorization", "headers.authorization", "password", "*.password", "bearerToken"],
        censor: "[redacted]",
      },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination({ fd: 2, sync: true }),
  );
}
