export { parseDuration, formatDuration } from "./core/duration.js";
