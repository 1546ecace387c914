// Props every view takes: the URL query string is the page's state (see url-state.ts).
export type UrlState = Record<string, string>;
export type SetState = (patch: Record<string, string | undefined>, opts?: { replace?: boolean }) => void;

export interface ViewProps {
  state: UrlState;
  setState: SetState;
}
