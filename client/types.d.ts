// Globals the pages share with the Chromium tests (type checking only; never served).
interface Window {
  /** The page's live connection, state and media session, for tests and debugging. */
  simultan: { live: any; state: any; media?: any; [key: string]: any };
}
