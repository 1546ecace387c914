import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/out/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: "readonly", console: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", setImmediate: "readonly", URL: "readonly", AbortController: "readonly", AbortSignal: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", fetch: "readonly", performance: "readonly", queueMicrotask: "readonly", structuredClone: "readonly" },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The web console's front end runs in the browser (bundled by scripts/build-console.mjs).
    files: ["src/console/web/**/*.{ts,tsx}"],
    languageOptions: {
      globals: { window: "readonly", document: "readonly", location: "readonly", history: "readonly", sessionStorage: "readonly", navigator: "readonly", requestAnimationFrame: "readonly", cancelAnimationFrame: "readonly", DOMException: "readonly", ResizeObserver: "readonly", HTMLElement: "readonly", HTMLInputElement: "readonly", HTMLCanvasElement: "readonly", HTMLSelectElement: "readonly", MouseEvent: "readonly", KeyboardEvent: "readonly", WheelEvent: "readonly", Event: "readonly", devicePixelRatio: "readonly", getComputedStyle: "readonly", matchMedia: "readonly", URLSearchParams: "readonly" },
    },
  },
);
