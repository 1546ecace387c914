// Events over time (uPlot bars: all requests, errors on top). Dragging across it selects a time
// range: `from`/`to` in the URL; a double click or "reset" clears them.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { getJson, isAbort } from "../../api.js";
import { errorText, filterParams } from "./filters.js";
import type { HistogramResult, SetState, State } from "./types.js";

/** UTC tick labels: time of day, with the date when the range spans days. */
function axisLabels(splits: number[]): string[] {
  const span = splits.length > 1 ? splits[splits.length - 1]! - splits[0]! : 0;
  const step = splits.length > 1 ? splits[1]! - splits[0]! : 0;
  return splits.map((s) => {
    const iso = new Date(s * 1000).toISOString();
    if (span >= 2 * 86400) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    return step < 60 ? iso.slice(11, 19) : iso.slice(11, 16);
  });
}

export function Histogram({ state, setState }: { state: State; setState: SetState }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [data, setData] = useState<HistogramResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const params = filterParams(state);
  const key = new URLSearchParams(params).toString();
  // The latest setState, for uPlot's hooks (created once per chart).
  const setRef = useRef(setState);
  setRef.current = setState;

  useEffect(() => {
    const ac = new AbortController();
    // Asked after the results table's first page (the server answers one query at a time): rows first.
    const timer = setTimeout(() => {
      getJson<HistogramResult>("audit/histogram", { ...params, buckets: 120 }, ac.signal)
        .then((d) => {
          setData(d);
          setError(null);
        })
        .catch((err: unknown) => {
          if (!isAbort(err)) setError(errorText(err));
        });
    }, 0);
    return () => {
      clearTimeout(timer);
      ac.abort();
    };
  }, [key]);

  useEffect(() => {
    const el = box.current;
    // An empty store (or filter) has no range to draw: from/to are null and there are no buckets.
    if (!el || !data || data.from === null || data.to === null) return;
    const [from, to] = [data.from, data.to];
    const xs = data.buckets.map((b) => Date.parse(b.t) / 1000);
    const counts = data.buckets.map((b) => b.count);
    const errors = data.buckets.map((b) => b.errors);
    const width = Math.max(300, el.clientWidth);
    const opts: uPlot.Options = {
      width,
      height: 140,
      legend: { show: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: { x: { time: true, range: () => [Date.parse(from) / 1000, Date.parse(to) / 1000] } },
      axes: [{ space: 90, values: (_u, splits) => axisLabels(splits) }, { size: 50 }],
      series: [
        {},
        { label: "requests", stroke: "#2463eb", fill: "rgba(36,99,235,0.35)", paths: uPlot.paths.bars!({ size: [0.9, 40], align: 1 }), points: { show: false } },
        { label: "errors", stroke: "#c62828", fill: "rgba(198,40,40,0.6)", paths: uPlot.paths.bars!({ size: [0.9, 40], align: 1 }), points: { show: false } },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 2) return;
            const a = u.posToVal(u.select.left, "x");
            const b = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            setRef.current({ from: new Date(Math.floor(a * 1000)).toISOString(), to: new Date(Math.ceil(b * 1000)).toISOString(), ev: undefined });
          },
        ],
      },
    };
    const u = new uPlot(opts, [xs, counts, errors], el);
    plot.current = u;
    const onDbl = (): void => setRef.current({ from: undefined, to: undefined });
    u.over.addEventListener("dblclick", onDbl);
    const ro = new ResizeObserver(() => {
      const w = Math.max(300, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: 140 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.over.removeEventListener("dblclick", onDbl);
      u.destroy();
      plot.current = null;
    };
  }, [data]);

  const total = data ? data.buckets.reduce((s, b) => s + b.count, 0) : null;
  return (
    <section class="audit-histogram" data-testid="audit-histogram">
      <div class="audit-histogram-head">
        <span class="hint">
          {data ? `${data.buckets.length} buckets of ${Math.max(1, Math.round(data.stepMs / 1000))} s · ${total} requests · drag to select a time range, double-click to reset` : "loading histogram…"}
        </span>
        {(state.from || state.to) && (
          <button type="button" data-testid="histogram-reset" onClick={() => setState({ from: undefined, to: undefined })}>
            reset time range
          </button>
        )}
      </div>
      {error !== null && <p class="error">{error}</p>}
      <div class="audit-histogram-plot" data-testid="histogram-plot" ref={box} />
    </section>
  );
}
