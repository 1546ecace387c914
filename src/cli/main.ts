#!/usr/bin/env node
import { main } from "./program.js";

// Long-running commands keep the event loop alive themselves and resolve only when done.
process.exitCode = await main(process.argv);
