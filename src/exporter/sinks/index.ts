import type { Sink } from "../sink.js";
import { FileSink } from "./file.js";
import { HttpSink } from "./http.js";
import { NatsSink } from "./nats.js";
import { parseSinkUrl, type SinkOptionsInput } from "./options.js";
import { StdoutSink } from "./stdout.js";

export { SinkOptionsSchema, SinkConfigError, parseSinkUrl, type SinkOptions, type SinkOptionsInput, type SinkKind } from "./options.js";
export { FileSink } from "./file.js";
export { HttpSink } from "./http.js";
export { NatsSink } from "./nats.js";
export { StdoutSink } from "./stdout.js";

/**
 * Builds a sink from its URL plus options from the config file. Throws SinkConfigError
 * (a UsageError: exit 2) naming the sink and the option when something is wrong.
 */
export function createSink(url: string, options: SinkOptionsInput = {}): Sink {
  const parsed = parseSinkUrl(url, options);
  switch (parsed.kind) {
    case "http":
      return new HttpSink(parsed);
    case "file":
      return new FileSink(parsed);
    case "stdout":
      return new StdoutSink(parsed);
    case "nats":
      return new NatsSink(parsed);
  }
}
