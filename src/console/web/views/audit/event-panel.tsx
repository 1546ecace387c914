// The raw audit event of a selected row or mark (`ev` = audit_id:stage), from `event?audit_id&stage`,
// as a JSON tree and as text, with a link to the object's timeline.
import { useEffect, useState } from "preact/hooks";
import { getJson, isAbort } from "../../api.js";
import { JsonTree } from "./json-tree.js";
import { errorText, hrefFor, objectKey, qualifiedResource } from "./filters.js";
import type { SetState, State } from "./types.js";

interface RawEvent {
  auditID?: string;
  stage?: string;
  verb?: string;
  requestURI?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string };
  [k: string]: unknown;
}

export function splitEv(ev: string): { audit_id: string; stage: string } | null {
  const i = ev.lastIndexOf(":");
  if (i <= 0 || i === ev.length - 1) return null;
  return { audit_id: ev.slice(0, i), stage: ev.slice(i + 1) };
}

export function EventPanel({ ev, state, setState }: { ev: string; state: State; setState: SetState }) {
  // The event and error belong to one `ev`: another one shows neither until its own arrives.
  const [eventOf, setEventOf] = useState<{ ev: string; event: RawEvent } | null>(null);
  const [errorOf, setErrorOf] = useState<{ ev: string; error: string } | null>(null);
  const event = eventOf?.ev === ev ? eventOf.event : null;
  const error = errorOf?.ev === ev ? errorOf.error : null;
  const [asText, setAsText] = useState(false);
  useEffect(() => {
    const id = splitEv(ev);
    if (!id) {
      setErrorOf({ ev, error: `ev: expected audit_id:stage, got ${ev}` });
      return;
    }
    const ac = new AbortController();
    getJson<RawEvent>("audit/event", id, ac.signal)
      .then((e) => setEventOf({ ev, event: e }))
      .catch((err: unknown) => {
        if (!isAbort(err)) setErrorOf({ ev, error: errorText(err) });
      });
    return () => ac.abort();
  }, [ev]);

  const ref = event?.objectRef;
  // Lanes name an object by its group-qualified resource (deployments.apps/ns/name).
  const sel = ref?.resource && ref.name ? objectKey(qualifiedResource(ref.resource, ref.apiGroup), ref.namespace, ref.name) : null;
  const timelinePatch = sel ? { tab: "timeline", sel, rev: undefined } : null;
  return (
    <section class="audit-panel audit-event" data-testid="event-panel" data-ev={ev}>
      <header>
        <strong>event</strong> <code>{ev}</code>
        <span class="spacer" />
        {timelinePatch && (
          <a
            href={hrefFor(state, timelinePatch)}
            data-testid="event-timeline-link"
            onClick={(e) => {
              e.preventDefault();
              setState(timelinePatch);
            }}
          >
            timeline of {sel}
          </a>
        )}
        <button type="button" data-testid="event-as-text" onClick={() => setAsText(!asText)}>
          {asText ? "tree" : "text"}
        </button>
        <button type="button" data-testid="event-close" onClick={() => setState({ ev: undefined })}>
          close
        </button>
      </header>
      {error !== null && <p class="error">{error}</p>}
      {event === null && error === null && <p class="hint">loading…</p>}
      {event !== null && (asText ? <pre data-testid="event-json">{JSON.stringify(event, null, 2)}</pre> : <div class="json-tree" data-testid="event-tree"><JsonTree value={event} /></div>)}
    </section>
  );
}
