// Tabs (WAI-ARIA tabs pattern): one panel shown at a time, arrow keys, Home and End move
// between the tabs (roving tabindex), Enter/Space or a click shows one. The choice lasts for
// the visit (sessionStorage), so a reload keeps the moderator where they were.
import { $$ } from "./dom.js";

/**
 * @param {HTMLElement} tablist  the element with role="tablist"
 * @param {{storeKey?: string, onShow?: (id: string) => void}} [opts]
 * @returns {{show: (tabId: string, focus?: boolean) => void}}
 */
export function mountTabs(tablist, opts = {}) {
  const tabs = $$("[role=tab]", tablist);
  const panelOf = (/** @type {HTMLElement} */ tab) => document.getElementById(tab.getAttribute("aria-controls") || "");

  function show(tabId, focus = false) {
    const chosen = tabs.find((tab) => tab.id === tabId) || tabs[0];
    for (const tab of tabs) {
      const on = tab === chosen;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      const panel = panelOf(tab);
      if (panel) panel.hidden = !on;
    }
    if (focus) chosen.focus();
    if (opts.storeKey) {
      try { globalThis.sessionStorage?.setItem(opts.storeKey, chosen.id); } catch { /* private mode */ }
    }
    opts.onShow?.(chosen.id);
  }

  tablist.addEventListener("click", (ev) => {
    const tab = /** @type {HTMLElement|null} */ ((/** @type {HTMLElement} */ (ev.target)).closest("[role=tab]"));
    if (tab) show(tab.id);
  });
  tablist.addEventListener("keydown", (ev) => {
    const at = tabs.indexOf(/** @type {any} */ (document.activeElement));
    if (at < 0) return;
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    if (!(ev.key in moves)) return;
    ev.preventDefault();
    const next = (moves[/** @type {keyof typeof moves} */ (ev.key)] + tabs.length) % tabs.length;
    show(tabs[next].id, true);
  });
  let start = tabs[0]?.id;
  try { start = globalThis.sessionStorage?.getItem(opts.storeKey || "") || start; } catch { /* none */ }
  show(start);
  return { show };
}
