// The console's shell: top navigation between the views, the token prompt when the server asks
// for one (401), and which sources the server has (so a view without its source says how to add it).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { getJson, getToken, onAuthChange, setToken, tokenNeeded } from "./api.js";
import { useUrlState } from "./url-state.js";
import type { ViewProps } from "./types.js";
import { AuditView } from "./views/audit/index.js";
import { AuditorView } from "./views/auditor.js";
import { ControlPlaneView } from "./views/controlplane.js";
import { TrafficView } from "./views/traffic.js";

export interface ConsoleInfo {
  version: string;
  sources: { audit: boolean; prometheus: boolean; auditor: boolean; etcdUsage: boolean };
}

const VIEWS: { id: string; label: string; source: keyof ConsoleInfo["sources"] | null; flag: string; component: (p: ViewProps) => preact.JSX.Element }[] = [
  { id: "audit", label: "Audit", source: "audit", flag: "--audit-db FILE", component: AuditView },
  { id: "auditor", label: "Auditor", source: "auditor", flag: "--auditor URL", component: AuditorView },
  { id: "controlplane", label: "Control plane", source: "prometheus", flag: "--prometheus URL", component: ControlPlaneView },
  { id: "traffic", label: "Traffic", source: "prometheus", flag: "--prometheus URL", component: TrafficView },
];

function TokenPrompt() {
  const [value, setValue] = useState("");
  return (
    <form
      class="token-prompt"
      data-testid="token-prompt"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
        location.reload();
      }}
    >
      <p>This console needs a bearer token (the same as for the JSON API).</p>
      <input type="password" autocomplete="off" aria-label="bearer token" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button type="submit">Use token</button>
    </form>
  );
}

function App() {
  const [state, setState] = useUrlState();
  const [info, setInfo] = useState<ConsoleInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [, bump] = useState(0);
  useEffect(() => onAuthChange(() => bump((n) => n + 1)), []);
  useEffect(() => {
    getJson<ConsoleInfo>("info")
      .then(setInfo)
      .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)));
  }, []);
  const current = VIEWS.find((v) => v.id === state.view) ?? VIEWS[0]!;
  const View = current.component;
  const available = info === null || current.source === null || info.sources[current.source];
  return (
    <div class="app">
      <header class="topbar">
        <span class="brand">watch-auditor</span>
        <nav>
          {VIEWS.map((v) => (
            <a
              key={v.id}
              href={`?view=${v.id}`}
              class={v.id === current.id ? "active" : ""}
              data-testid={`nav-${v.id}`}
              onClick={(e) => {
                e.preventDefault();
                setState({ view: v.id, tab: undefined, sel: undefined, rev: undefined, ev: undefined });
              }}
            >
              {v.label}
            </a>
          ))}
        </nav>
        {getToken() !== null && (
          <button class="link" onClick={() => { setToken(null); location.reload(); }}>
            forget token
          </button>
        )}
      </header>
      <main data-testid={`view-${current.id}`}>
        {tokenNeeded() ? (
          <TokenPrompt />
        ) : error !== null && info === null ? (
          <p class="error">{error}</p>
        ) : !available ? (
          <p class="hint" data-testid="source-missing">
            This view needs a source: start the console with <code>{current.flag}</code>.
          </p>
        ) : info === null ? (
          <p class="hint">loading…</p>
        ) : (
          <View state={state} setState={setState} />
        )}
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app")!);
